// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The metrics HTTP server on libmicrohttpd. See http.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "http.h"
#include "metrics.h"

struct tf_http {
	struct MHD_Daemon *d;
	tf_http_render_fn fn;
	void *ctx;
	char url[96];
};

static const char root_page[] =
	"<!DOCTYPE html>\n<html><head><title>tcpflow-trace</title></head><body>\n"
	"<h1>tcpflow-trace</h1>\n"
	"<p>TCP connection lifecycle metrics for Prometheus: <a href=\"/metrics\">/metrics</a></p>\n"
	"</body></html>\n";

/* ---- "[ADDR:]PORT" ---- */

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* Split "ADDR:PORT" / "[ADDR]:PORT" / "PORT" into host (copied into buf) and port text. */
static int split_spec(const char *spec, char *host, size_t hostlen, const char **port,
		      char *err, size_t errlen)
{
	const char *colon = strrchr(spec, ':');
	size_t n;

	if (!colon) {
		snprintf(host, hostlen, "%s", TF_HTTP_DEFAULT_ADDR);
		*port = spec;
		return 0;
	}
	n = (size_t)(colon - spec);
	if (spec[0] == '[') {
		if (n < 2 || spec[n - 1] != ']') {
			snprintf(err, errlen, "--metrics %s: write IPv6 as [ADDR]:PORT, e.g. [::1]:9464", spec);
			return -1;
		}
		spec++;
		n -= 2;
	} else if (memchr(spec, ':', n)) {
		snprintf(err, errlen, "--metrics %s: put an IPv6 address in brackets, e.g. [::1]:9464", spec);
		return -1;
	}
	if (n == 0 || n >= hostlen) {
		snprintf(err, errlen, "--metrics %s: give an address before ':' (0.0.0.0 for all "
			 "IPv4 addresses) or only the port", spec);
		return -1;
	}
	memcpy(host, spec, n);
	host[n] = 0;
	*port = colon + 1;
	return 0;
}

/*
 * "PORT", "ADDR:PORT" or "[IPV6]:PORT" -> socket address; PORT alone binds
 * 127.0.0.1; port 0 picks a free port. 0, or -1 with one line in err.
 */
static int parse_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *sslen,
		      char *err, size_t errlen)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[64];
	const char *ptext;
	uint16_t port;

	memset(ss, 0, sizeof(*ss));
	if (!spec || split_spec(spec, host, sizeof(host), &ptext, err, errlen))
		return -1;
	if (parse_port(ptext, &port)) {
		snprintf(err, errlen, "--metrics %s: the port must be a number 0-65535, e.g. 9464", spec);
		return -1;
	}
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*sslen = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*sslen = sizeof(*in6);
	} else {
		snprintf(err, errlen, "--metrics %s: '%s' is not a numeric IP address: give one, "
			 "e.g. 127.0.0.1:9464 or [::1]:9464", spec, host);
		return -1;
	}
	return 0;
}

/* ---- listening socket ---- */

static void bind_error(int err, const char *spec, char *msg, size_t len)
{
	if (err == EADDRINUSE)
		snprintf(msg, len, "--metrics %s: address already in use (another tcpflow-trace or "
			 "exporter?): stop it or choose another port, e.g. --metrics 9465", spec);
	else if (err == EADDRNOTAVAIL)
		snprintf(msg, len, "--metrics %s: that address is not on this host: use one of its "
			 "addresses, 127.0.0.1 or 0.0.0.0", spec);
	else if (err == EACCES)
		snprintf(msg, len, "--metrics %s: ports below 1024 need CAP_NET_BIND_SERVICE: "
			 "choose a port >= 1024", spec);
	else
		snprintf(msg, len, "--metrics %s: cannot listen: %s", spec, strerror(err));
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t sslen, const char *spec,
		     char *msg, size_t msglen)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, err;

	if (fd < 0) {
		err = errno;
		snprintf(msg, msglen, "--metrics %s: socket: %s", spec, strerror(err));
		return -err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, sslen) || listen(fd, 64)) {
		err = errno;
		bind_error(err, spec, msg, msglen);
		close(fd);
		return -err;
	}
	return fd;
}

static void make_url(struct tf_http *h, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		port = ntohs(in6->sin6_port);
		snprintf(h->url, sizeof(h->url), "http://[%s]:%u/metrics", addr, port);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in4->sin_addr, addr, sizeof(addr));
		port = ntohs(in4->sin_port);
		snprintf(h->url, sizeof(h->url), "http://%s:%u/metrics", addr, port);
	}
}

/* ---- requests ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     void *body, size_t len, enum MHD_ResponseMemoryMode mode,
			     const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text,
				  const char *allow)
{
	return reply(conn, status, "text/plain; charset=utf-8", (void *)text, strlen(text),
		     MHD_RESPMEM_PERSISTENT, allow);
}

static enum MHD_Result serve_metrics(struct tf_http *h, struct MHD_Connection *conn)
{
	size_t len = 0;
	char *body = h->fn(h->ctx, &len);

	if (!body)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "out of memory rendering the metrics\n", NULL);
	return reply(conn, MHD_HTTP_OK, TF_METRICS_CONTENT_TYPE, body, len,
		     MHD_RESPMEM_MUST_FREE, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct tf_http *h = cls;
	bool metrics = !strcmp(url, "/metrics"), root = !strcmp(url, "/");

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	if (!metrics && !root)
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "404 not found: metrics are at /metrics\n",
				  NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "405 method not allowed: use GET\n", "GET, HEAD");
	if (root)
		return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", (void *)root_page,
			     sizeof(root_page) - 1, MHD_RESPMEM_PERSISTENT, NULL);
	return serve_metrics(h, conn);
}

/* The server thread inherits a mask without SIGINT/SIGTERM: Ctrl-C reaches the tracing loop. */
static struct MHD_Daemon *start_daemon(unsigned flags, int fd, struct tf_http *h)
{
	struct MHD_Daemon *d;
	sigset_t block, old;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
			     MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)TF_HTTP_MAX_CONNS,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)TF_HTTP_MAX_PER_IP,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)TF_HTTP_TIMEOUT_S,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)TF_HTTP_MEM_LIMIT,
			     MHD_OPTION_STRICT_FOR_CLIENT, (int)1,	/* malformed -> 400 */
			     MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return d;
}

int tf_http_start(struct tf_http **out, const char *spec, tf_http_render_fn fn, void *ctx,
		  char *msg, size_t msglen)
{
	struct sockaddr_storage ss;
	struct tf_http *h = NULL;
	socklen_t sslen;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
	int fd = -1, err;

	*out = NULL;
	if (parse_addr(spec, &ss, &sslen, msg, msglen))
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(msg, msglen, "out of memory starting the metrics server");
		return -ENOMEM;
	}
	h->fn = fn;
	h->ctx = ctx;
	fd = listen_on(&ss, sslen, spec, msg, msglen);
	if (fd < 0) {
		err = fd;
		goto cleanup;
	}
	make_url(h, fd);
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = start_daemon(flags, fd, h);
	if (!h->d) {
		err = -EIO;
		snprintf(msg, msglen, "--metrics %s: the HTTP server (libmicrohttpd) did not start: "
			 "check that threads and epoll are available", spec);
		close(fd);
		goto cleanup;
	}
	*out = h;
	return 0;
cleanup:
	free(h);
	return err;
}

const char *tf_http_url(const struct tf_http *h)
{
	return h->url;
}

void tf_http_stop(struct tf_http *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	free(h);
}
