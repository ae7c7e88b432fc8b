/* web_assets.h - the dashboard's files (web/ and uPlot's browser build),
 * compiled into mcmcd by the build (web/embed.cmake writes their table),
 * and the public routes that serve them: GET / (web/index.html) and GET
 * /ui/NAME. Each answer has an ETag (If-None-Match gives 304), is
 * revalidated before reuse, and carries a Content-Security-Policy that
 * allows only the daemon's own scripts, styles and API: no inline script
 * or style, no other origin. */
#ifndef MCMCD_WEB_ASSETS_H
#define MCMCD_WEB_ASSETS_H

#include <stddef.h>

typedef struct api_call api_call;

typedef struct web_asset {
    const char *name; /* "app.js": served at /ui/app.js */
    const char *type; /* its Content-Type */
    const char *etag; /* quoted: "\"0123456789abcdef\"" */
    const unsigned char *data;
    size_t size;
} web_asset;

extern const web_asset web_assets[];
extern const size_t web_asset_count;

/* The asset of that file name, or NULL. */
const web_asset *web_asset_find(const char *name);

/* GET /: the dashboard's page. */
void api_web_index(api_call *c);
/* GET /ui/{id}: one of its files; 404 for another name. */
void api_web_asset(api_call *c);

#endif
