// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpgen -- a small, bounded TCP traffic program for the integration tests.
 *
 * Run it inside a test network namespace (ip netns exec NS tcpgen ...).
 *
 *   tcpgen server --listen ADDR --port P [--count N]
 *                 [--close first|after-peer|linger0|never] [--hold-ms N]
 *   tcpgen client --connect ADDR --port P [--count N]
 *                 [--close first|after-peer|linger0|shutdown-wr] [--hold-ms N]
 *                 [--wait-stdin] [--wait-stdin-close]
 *   common:       [--timeout-ms N]   (whole run; default 15000)
 *                 [--send BYTES]     (written on each connection once it is up)
 *
 * Close modes (per connection):
 *   first        hold N ms after the connection is up, then close()
 *   after-peer   read until the peer's FIN (or reset), hold N ms, close()
 *   linger0      hold N ms, SO_LINGER {1,0}, close() -> RST
 *   shutdown-wr  (client) hold N ms, shutdown(SHUT_WR), read until FIN, close()
 *   never        (server) keep the socket open until the run ends
 * --wait-stdin-close: (client) after sending, wait for a line on stdin
 * before the close mode starts (a test looks at the open socket meanwhile).
 *
 * stdout: one JSON line per event, flushed at once:
 *   {"event":"listening","pid":..,"port":..}        server, after listen()
 *   {"event":"ready","pid":..}                      client --wait-stdin, before waiting
 *   {"event":"up","role":..,"pid":..,"lport":..,"rport":..}  after --send, before the close
 *   {"event":"conn","role":"client"|"server","pid":..,"lport":..,"rport":..,
 *    "connect_errno":E,"peer":"eof"|"reset"|"none"|"timeout","close":MODE,
 *    "sent":BYTES,"received":BYTES}       (payload written and read by the program)
 *   {"event":"done","pid":..,"conns":N}
 * connect_errno is 0 on success (e.g. 111 = ECONNREFUSED). Exit status 0 when
 * every connection went as asked (a refused connect is reported, not an
 * error), 1 on a runtime error, 2 on a usage error. SIGALRM bounds the run.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum close_mode { CM_FIRST, CM_AFTER_PEER, CM_LINGER0, CM_SHUTDOWN_WR, CM_NEVER };

static const char *const close_names[] = {
	[CM_FIRST] = "first",
	[CM_AFTER_PEER] = "after-peer",
	[CM_LINGER0] = "linger0",
	[CM_SHUTDOWN_WR] = "shutdown-wr",
	[CM_NEVER] = "never",
};

struct opts {
	bool server;
	const char *addr;
	int port;
	int count;
	enum close_mode close;
	int hold_ms;
	int timeout_ms;
	bool wait_stdin;
	bool wait_stdin_close;
	long send;
};

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static struct timespec deadline;	/* CLOCK_MONOTONIC end of the run */

__attribute__((format(printf, 1, 2))) static void emit(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&out_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static void usage(const char *msg)
{
	fprintf(stderr, "tcpgen: %s (see the comment at the top of tests/tools/tcpgen.c)\n", msg);
	exit(2);
}

static int ms_left(void)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline.tv_sec - now.tv_sec) * 1000LL + (deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static long parse_num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		char msg[128];

		snprintf(msg, sizeof(msg), "bad %s '%s'", what, s);
		usage(msg);
	}
	return v;
}

static enum close_mode parse_close(const char *s)
{
	for (size_t i = 0; i < sizeof(close_names) / sizeof(close_names[0]); i++)
		if (!strcmp(s, close_names[i]))
			return (enum close_mode)i;
	usage("bad --close mode");
	return CM_FIRST;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->count = 1;
	o->timeout_ms = 15000;
	o->close = CM_FIRST;
	if (argc < 2)
		usage("need 'server' or 'client'");
	if (!strcmp(argv[1], "server")) {
		o->server = true;
		o->close = CM_AFTER_PEER;
	} else if (strcmp(argv[1], "client")) {
		usage("need 'server' or 'client'");
	}
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--wait-stdin")) {
			o->wait_stdin = true;
			continue;
		}
		if (!strcmp(a, "--wait-stdin-close")) {
			o->wait_stdin_close = true;
			continue;
		}
		if (!v)
			usage("option needs a value");
		i++;
		if (!strcmp(a, "--listen") || !strcmp(a, "--connect"))
			o->addr = v;
		else if (!strcmp(a, "--port"))
			o->port = (int)parse_num(v, 1, 65535, "port");
		else if (!strcmp(a, "--count"))
			o->count = (int)parse_num(v, 1, 10000, "count");
		else if (!strcmp(a, "--close"))
			o->close = parse_close(v);
		else if (!strcmp(a, "--hold-ms"))
			o->hold_ms = (int)parse_num(v, 0, 600000, "hold-ms");
		else if (!strcmp(a, "--timeout-ms"))
			o->timeout_ms = (int)parse_num(v, 1, 600000, "timeout-ms");
		else if (!strcmp(a, "--send"))
			o->send = parse_num(v, 0, 1L << 30, "send");
		else
			usage("unknown option");
	}
	if (!o->addr || !o->port)
		usage("need an address and --port");
	if (o->server && o->close == CM_SHUTDOWN_WR)
		usage("shutdown-wr is a client mode");
	if (!o->server && o->close == CM_NEVER)
		usage("never is a server mode");
}

static int resolve(const struct opts *o, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai;
	char port[8];
	int err;

	snprintf(port, sizeof(port), "%d", o->port);
	err = getaddrinfo(o->addr, port, &hints, &ai);
	if (err) {
		fprintf(stderr, "tcpgen: address %s: %s\n", o->addr, gai_strerror(err));
		return -1;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int sock_port(int fd, bool peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
		     : getsockname(fd, (struct sockaddr *)&ss, &len);

	if (r)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Write n bytes (blocking or not) by the deadline. Returns the bytes written. */
static long send_all(int fd, long n)
{
	static const char buf[16384] = { [0 ... 16383] = 'x' };
	long done = 0;

	while (done < n) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		size_t chunk = n - done < (long)sizeof(buf) ? (size_t)(n - done) : sizeof(buf);
		ssize_t w;

		if (!ms_left() || (poll(&p, 1, ms_left()) < 0 && errno != EINTR))
			break;
		w = write(fd, buf, chunk);
		if (w > 0)
			done += w;
		else if (w < 0 && errno != EINTR && errno != EAGAIN)
			break;
	}
	return done;
}

/* Bytes read by drain() on this thread's connection. */
static __thread long received;

/* Read and discard until EOF, reset or the deadline: "eof", "reset", "timeout". */
static const char *drain(int fd)
{
	char buf[4096];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = ms_left();
		ssize_t n;

		if (!left)
			return "timeout";
		if (poll(&p, 1, left) < 0) {
			if (errno == EINTR)
				continue;
			return "timeout";
		}
		if (!p.revents)
			return "timeout";
		n = read(fd, buf, sizeof(buf));
		if (n > 0)
			received += n;
		if (n == 0)
			return "eof";
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == ECONNRESET ? "reset" : "error";
		}
	}
}

static void set_linger0(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)))
		perror("tcpgen: SO_LINGER");
}

/* Run one connection's close per the mode; returns what the peer did. */
static const char *finish_conn(int fd, enum close_mode mode, int hold_ms)
{
	const char *peer = "none";

	switch (mode) {
	case CM_FIRST:
		sleep_ms(hold_ms);
		break;
	case CM_AFTER_PEER:
		peer = drain(fd);
		sleep_ms(hold_ms);
		break;
	case CM_LINGER0:
		sleep_ms(hold_ms);
		set_linger0(fd);
		break;
	case CM_SHUTDOWN_WR:
		sleep_ms(hold_ms);
		if (shutdown(fd, SHUT_WR))
			perror("tcpgen: shutdown");
		peer = drain(fd);
		break;
	case CM_NEVER:
		sleep_ms(ms_left());
		break;
	}
	close(fd);
	return peer;
}

/* ---- server ------------------------------------------------------------- */

struct srv_conn {
	pthread_t thread;
	int fd;
	const struct opts *o;
};

static void *srv_conn_main(void *arg)
{
	struct srv_conn *c = arg;
	int lport = sock_port(c->fd, false), rport = sock_port(c->fd, true);
	long sent = send_all(c->fd, c->o->send);
	const char *peer;

	if (c->o->send)
		emit("{\"event\":\"up\",\"role\":\"server\",\"pid\":%d,\"lport\":%d,\"rport\":%d}",
		     (int)getpid(), lport, rport);
	received = 0;
	peer = finish_conn(c->fd, c->o->close, c->o->hold_ms);
	emit("{\"event\":\"conn\",\"role\":\"server\",\"pid\":%d,\"lport\":%d,\"rport\":%d,"
	     "\"connect_errno\":0,\"peer\":\"%s\",\"close\":\"%s\",\"sent\":%ld,\"received\":%ld}",
	     (int)getpid(), lport, rport, peer, close_names[c->o->close], sent, received);
	return NULL;
}

/* --wait-stdin-close: one line on stdin, by the deadline. */
static bool stdin_go(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	char buf[64];

	return poll(&p, 1, ms_left()) > 0 && read(0, buf, sizeof(buf)) > 0;
}

static int run_server(const struct opts *o)
{
	struct sockaddr_storage ss;
	struct srv_conn *conns;
	socklen_t len;
	int lfd, one = 1, n = 0, rc = 0;

	if (resolve(o, &ss, &len))
		return 1;
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		perror("tcpgen: socket");
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 128)) {
		perror("tcpgen: bind/listen");
		close(lfd);
		return 1;
	}
	emit("{\"event\":\"listening\",\"pid\":%d,\"port\":%d}", (int)getpid(), o->port);

	conns = calloc((size_t)o->count, sizeof(*conns));
	if (!conns) {
		close(lfd);
		return 1;
	}
	while (n < o->count) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int left = ms_left(), fd;

		if (!left) {
			fprintf(stderr, "tcpgen: server: timeout after %d of %d connections\n",
				n, o->count);
			rc = 1;
			break;
		}
		if (poll(&p, 1, left) <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("tcpgen: accept");
			rc = 1;
			break;
		}
		conns[n].fd = fd;
		conns[n].o = o;
		if (pthread_create(&conns[n].thread, NULL, srv_conn_main, &conns[n])) {
			fprintf(stderr, "tcpgen: pthread_create failed\n");
			close(fd);
			rc = 1;
			break;
		}
		n++;
	}
	for (int i = 0; i < n; i++)
		pthread_join(conns[i].thread, NULL);
	free(conns);
	close(lfd);
	emit("{\"event\":\"done\",\"pid\":%d,\"conns\":%d}", (int)getpid(), n);
	return rc;
}

/* ---- client ------------------------------------------------------------- */

/* Non-blocking connect bounded by the deadline; returns 0 or an errno. */
static int connect_bounded(int fd, const struct sockaddr_storage *ss, socklen_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t elen = sizeof(int);
	int err = 0;

	if (!connect(fd, (const struct sockaddr *)ss, len))
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	for (;;) {
		int r = poll(&p, 1, ms_left());

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return ETIMEDOUT;
		break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen))
		return errno;
	return err;
}

static int run_client(const struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int rc = 0;

	if (resolve(o, &ss, &len))
		return 1;
	if (o->wait_stdin) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		char buf[64];

		emit("{\"event\":\"ready\",\"pid\":%d}", (int)getpid());
		if (poll(&p, 1, ms_left()) <= 0 || read(0, buf, sizeof(buf)) <= 0) {
			fprintf(stderr, "tcpgen: client: no go on stdin\n");
			return 1;
		}
	}
	for (int i = 0; i < o->count; i++) {
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		const char *peer = "none";
		long sent = 0;
		int err, lport;

		if (fd < 0) {
			perror("tcpgen: socket");
			return 1;
		}
		received = 0;
		err = connect_bounded(fd, &ss, len);
		lport = sock_port(fd, false);
		if (err) {
			close(fd);
			if (err != ECONNREFUSED)
				rc = 1;
		} else {
			sent = send_all(fd, o->send);
			if (o->send || o->wait_stdin_close)
				emit("{\"event\":\"up\",\"role\":\"client\",\"pid\":%d,\"lport\":%d,"
				     "\"rport\":%d}", (int)getpid(), lport, o->port);
			if (o->wait_stdin_close && !stdin_go()) {
				fprintf(stderr, "tcpgen: client: no go on stdin to close\n");
				rc = 1;
			}
			peer = finish_conn(fd, o->close, o->hold_ms);
		}
		emit("{\"event\":\"conn\",\"role\":\"client\",\"pid\":%d,\"lport\":%d,\"rport\":%d,"
		     "\"connect_errno\":%d,\"peer\":\"%s\",\"close\":\"%s\",\"sent\":%ld,"
		     "\"received\":%ld}",
		     (int)getpid(), lport, o->port, err, peer, close_names[o->close], sent, received);
		if (!ms_left()) {
			fprintf(stderr, "tcpgen: client: timeout\n");
			rc = 1;
			break;
		}
	}
	emit("{\"event\":\"done\",\"pid\":%d,\"conns\":%d}", (int)getpid(), o->count);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;

	parse_opts(argc, argv, &o);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += o.timeout_ms / 1000;
	deadline.tv_nsec += (o.timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	/* Hard stop even if something blocks where we do not expect it. */
	alarm((unsigned)(o.timeout_ms / 1000 + 5));
	return o.server ? run_server(&o) : run_client(&o);
}
