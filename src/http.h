/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The metrics HTTP server: libmicrohttpd with one internal polling thread
 * (epoll), serving GET /metrics and GET / (HEAD too); any other path is 404,
 * any other method 405 with an Allow header, malformed requests get
 * libmicrohttpd's 400. Connections are limited in number, idle time and
 * memory, so slow or many clients cannot exhaust us -- and they never touch
 * the tracing thread: the body comes from a render callback that returns a
 * fresh buffer.
 */
#ifndef TF_HTTP_H
#define TF_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define TF_HTTP_DEFAULT_ADDR "127.0.0.1"
#define TF_HTTP_MAX_CONNS 64		/* open connections at once */
#define TF_HTTP_MAX_PER_IP 16		/* of which from one client address */
#define TF_HTTP_TIMEOUT_S 10		/* idle connections are closed after this */
#define TF_HTTP_MEM_LIMIT (32 * 1024)	/* per-connection buffer for the request */

/* The body of GET /metrics: a malloc'd buffer the server frees, or NULL (-> 500). */
typedef char *(*tf_http_render_fn)(void *ctx, size_t *len);

struct tf_http;

/*
 * Bind, listen, serve. 0, or -errno (-EADDRINUSE: port in use, -EINVAL: bad
 * spec, ...) with one line saying what to do in msg.
 */
int tf_http_start(struct tf_http **out, const char *spec, tf_http_render_fn fn, void *ctx,
		  char *msg, size_t msglen);

/* Where it serves, e.g. "http://127.0.0.1:9464/metrics". */
const char *tf_http_url(const struct tf_http *h);

/* Stop serving (joins the server thread) and free. NULL is fine. */
void tf_http_stop(struct tf_http *h);

#endif /* TF_HTTP_H */
