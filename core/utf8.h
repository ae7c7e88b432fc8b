/* utf8.h - untrusted bytes made safe to store and echo: whether a string is valid
 * UTF-8, and a copy that is, cut only between whole characters. Used for
 * every piece of a request (path, id, method, content type, query value,
 * dataset name) that goes back into an error message: jansson refuses
 * invalid UTF-8, and a %.Ns cut can split a character in two. */
#ifndef MCMCD_UTF8_H
#define MCMCD_UTF8_H

#include <stddef.h>

/* Whether the NUL-terminated s is well-formed UTF-8 (no overlong forms,
 * no surrogates, nothing above U+10FFFF). */
int utf8_valid(const char *s);

/* Copies s into buf (cap >= 1 bytes, always NUL-terminated) as valid
 * UTF-8: every byte that does not begin a well-formed sequence becomes
 * U+FFFD, and the copy stops before a character that would not fit whole
 * into cap - 1 bytes. NULL s copies as "". Returns buf. */
const char *utf8_clip(char *buf, size_t cap, const char *s);

#endif
