/* web_assets.c - serves the compiled-in dashboard (web_assets.h): the
 * headers every file gets, ETag revalidation, and the 404 for a name the
 * build did not embed. The page holds no secret: every API call it makes
 * carries the user's token. */
#include <string.h>

#include "api_util.h"
#include "web_assets.h"

/* Scripts and styles from this origin only (no inline ones, no eval), API
 * calls to this origin only, no framing, no forms posted elsewhere.
 * img-src allows blob: and data: for uPlot's and the download links'
 * object URLs. */
#define WEB_CSP                                                                                    \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "        \
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "                   \
    "frame-ancestors 'none'"

const web_asset *web_asset_find(const char *name) {
    for (size_t i = 0; i < web_asset_count; i++)
        if (!strcmp(web_assets[i].name, name)) return &web_assets[i];
    return NULL;
}

/* Whether an If-None-Match header names etag (or is "*"). */
static int etag_matches(const char *header, const char *etag) {
    if (!header) return 0;
    if (!strcmp(header, "*")) return 1;
    size_t n = strlen(etag);
    for (const char *p = strstr(header, etag); p; p = strstr(p + 1, etag)) {
        int starts = p == header || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/';
        int ends = p[n] == 0 || p[n] == ',' || p[n] == ' ';
        if (starts && ends) return 1;
    }
    return 0;
}

static void respond_asset(http_request *req, const web_asset *a) {
    http_request_add_header(req, "ETag", a->etag);
    /* the names are not versioned: always revalidate, a 304 is cheap */
    http_request_add_header(req, "Cache-Control", "no-cache");
    http_request_add_header(req, "Content-Security-Policy", WEB_CSP);
    http_request_add_header(req, "X-Content-Type-Options", "nosniff");
    http_request_add_header(req, "Referrer-Policy", "no-referrer");
    http_request_add_header(req, "X-Frame-Options", "DENY");
    if (etag_matches(http_request_header(req, "If-None-Match"), a->etag)) {
        http_respond_empty(req, 304);
        return;
    }
    http_respond(req, 200, a->type, (const char *)a->data, a->size);
}

void api_web_index(api_call *c) {
    const web_asset *a = web_asset_find("index.html");
    if (!a) {
        http_respond_error(c->req, 500, "internal", "the dashboard was not compiled in", NULL);
        return;
    }
    respond_asset(c->req, a);
}

void api_web_asset(api_call *c) {
    const web_asset *a = web_asset_find(c->id);
    if (!a) {
        respond_not_found(c->req, "dashboard file", c->id);
        return;
    }
    respond_asset(c->req, a);
}
