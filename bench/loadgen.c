// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpflow-loadgen: TCP connect/accept/close churn on loopback, for the
 * tcpflow-trace benchmark (bench/run_bench.py).
 *
 * Each worker thread owns a listener on 127.0.0.1:(port + i) and loops:
 *
 *   socket -> bind(127.x.y.z, port 0) -> connect -> accept -> close both
 *
 * On loopback the whole handshake and teardown run synchronously in the
 * worker's system calls (softirq on the same CPU), so one thread per core
 * saturates it without epoll. A connection gives ~10 inet_sock_set_state
 * events (5 per side) in the client-first and server-first close modes,
 * 6 in reset mode (SO_LINGER {1,0} on the client).
 *
 * Source addresses rotate over 127.<10+worker>.<1..250>.<1..250> with
 * IP_BIND_ADDRESS_NO_PORT, so the ephemeral port is chosen per 4-tuple at
 * connect time and TIME-WAIT never exhausts the port range.
 *
 * Only loopback, or a fresh network namespace of our own (-N): this tool
 * never sends a packet off the host.
 *
 * Output: one JSON line on stdout when done; per-second rates on stderr
 * with -v. No per-connection output.
 *
 * Exit status: 0 success, 1 runtime failure, 2 usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_WORKERS 64
#define HOLD_MAX 1000000

enum close_mode { CLOSE_CLIENT, CLOSE_SERVER, CLOSE_RESET };
static const char *const mode_names[] = { "client-first", "server-first", "reset" };

struct opts {
	int workers;
	double duration;	/* measured window, seconds */
	double warmup;		/* seconds before the window opens */
	uint64_t count;		/* >0: stop after this many churn connections */
	enum close_mode mode;
	int hold;		/* long-lived connections opened before the churn */
	int port;		/* worker i listens on port + i, hold on port + workers */
	int rotate;		/* rotate client source addresses */
	int netns;		/* run in a new network namespace */
	int pin;		/* pin worker i to CPU i % ncpu */
	int verbose;
};

struct worker {
	_Atomic uint64_t done;	/* connections completed (written by the worker only) */
	_Atomic uint64_t errors;
	int id;
	int lfd;
	uint64_t quota;		/* 0: until stopped */
	int first_errno;
	const char *first_errop;
	const struct opts *o;
	pthread_t thread;
} __attribute__((aligned(64)));

static atomic_int stop_flag;
static volatile sig_atomic_t got_signal;

static void __attribute__((format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("tcpflow-loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR && !got_signal)
		;
}

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
	atomic_store(&stop_flag, 1);
}

static struct sockaddr_in sin4(uint32_t host_order_addr, int port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(host_order_addr);
	return a;
}

/* 127.<net>.<1..250>.<1..250>: 62500 sources per worker, never .0 or .255. */
static uint32_t rotated_src(int net, uint64_t i)
{
	uint32_t h = i % 62500;

	return (127u << 24) | ((uint32_t)net << 16) | ((1 + h / 250) << 8) | (1 + h % 250);
}

static int make_listener(int port, int backlog)
{
	struct sockaddr_in a = sin4(INADDR_LOOPBACK, port);
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("SO_REUSEADDR: %s", strerror(errno));
	/* A client socket of someone else may hold the port for a moment. */
	for (int tries = 0; bind(fd, (struct sockaddr *)&a, sizeof(a)); tries++) {
		if (errno != EADDRINUSE || tries == 50)
			die("bind 127.0.0.1:%d: %s (pick another base port with -p)", port,
			    strerror(errno));
		usleep(100 * 1000);
	}
	if (listen(fd, backlog))
		die("listen: %s", strerror(errno));
	return fd;
}

/* A connected client socket from a rotated source, or -1 (errno set). */
static int dial(int net, uint64_t i, int rotate, const struct sockaddr_in *dst,
		int reset, const char **op)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int one = 1, fd;

	*op = "socket";
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (rotate) {
		struct sockaddr_in src = sin4(rotated_src(net, i), 0);

		*op = "bind";
		if (setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) ||
		    bind(fd, (struct sockaddr *)&src, sizeof(src)))
			goto fail;
	}
	*op = "SO_LINGER";
	if (reset && setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
		goto fail;
	*op = "connect";
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)))
		goto fail;
	return fd;
fail:
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return -1;
}

static void note_error(struct worker *w, const char *op)
{
	if (!atomic_load_explicit(&w->errors, memory_order_relaxed)) {
		w->first_errno = errno;
		w->first_errop = op;
	}
	atomic_store_explicit(&w->errors,
			      atomic_load_explicit(&w->errors, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	struct sockaddr_in dst = sin4(INADDR_LOOPBACK, o->port + w->id);
	uint64_t i = 0, done = 0;
	const char *op;
	int c, s;

	if (o->pin) {
		cpu_set_t set;
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		CPU_ZERO(&set);
		CPU_SET(w->id % (ncpu > 0 ? ncpu : 1), &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		if (w->quota && done >= w->quota)
			break;
		c = dial(10 + w->id, i++, o->rotate, &dst, o->mode == CLOSE_RESET, &op);
		if (c < 0) {
			note_error(w, op);
			if (errno == EMFILE || errno == ENFILE)
				usleep(1000);
			continue;
		}
		s = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0) {
			note_error(w, "accept");
			close(c);
			continue;
		}
		if (o->mode == CLOSE_SERVER) {
			close(s);
			close(c);
		} else {		/* client-first, or reset: the client's close sends RST */
			close(c);
			close(s);
		}
		atomic_store_explicit(&w->done, ++done, memory_order_relaxed);
	}
	return NULL;
}

static uint64_t total_done(struct worker *ws, int n)
{
	uint64_t t = 0;

	for (int i = 0; i < n; i++)
		t += atomic_load_explicit(&ws[i].done, memory_order_relaxed);
	return t;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);	/* best effort */
	}
}

/*
 * Open `n` idle connections and keep them until we exit. The accepted ends
 * live in a child process so that each process needs only n descriptors
 * (the hard RLIMIT_NOFILE may be 20000 and cannot be raised without
 * CAP_SYS_RESOURCE). Call it before creating any other socket, so the
 * child holds nothing else. Returns the client descriptors.
 */
static int *hold_open(const struct opts *o, int n, pid_t *child)
{
	struct sockaddr_in dst = sin4(INADDR_LOOPBACK, o->port + o->workers);
	int lfd = make_listener(o->port + o->workers, 4096);
	int ready[2], *fds;
	const char *op;
	pid_t pid;
	char b;

	fds = calloc(n, sizeof(*fds));
	if (!fds)
		die("out of memory");
	if (pipe2(ready, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		/* Child: accept every held connection, report, then wait to die. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		for (int i = 0; i < n; i++) {
			if (accept4(lfd, NULL, NULL, SOCK_CLOEXEC) < 0) {
				fprintf(stderr, "tcpflow-loadgen: hold accept: %s\n", strerror(errno));
				_exit(1);
			}
		}
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(lfd);
	close(ready[1]);
	for (int i = 0; i < n; i++) {
		/* 127.200.x.y: a source range apart from the workers'. */
		fds[i] = dial(200, (uint64_t)i, 1, &dst, 0, &op);
		if (fds[i] < 0)
			die("hold: %s #%d: %s", op, i, strerror(errno));
	}
	if (read(ready[0], &b, 1) != 1) {
		int st;

		waitpid(pid, &st, 0);
		die("hold: the accepting child failed");
	}
	close(ready[0]);
	*child = pid;
	return fds;
}

static void lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		die("SIOCGIFFLAGS lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		die("SIOCSIFFLAGS lo: %s", strerror(errno));
	close(fd);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: tcpflow-loadgen [options]\n"
"  -w N     worker threads (default 2)\n"
"  -d SEC   measured window (default 5)\n"
"  -W SEC   warm-up before the window (default 1)\n"
"  -n N     run exactly N churn connections instead (window = whole run)\n"
"  -m MODE  close mode: client (client-first, default), server (server-first),\n"
"           reset (client SO_LINGER {1,0}: RST)\n"
"  -H N     hold N idle connections open during the churn\n"
"  -p PORT  base port: worker i listens on 127.0.0.1:PORT+i, the held\n"
"           connections' listener on PORT+workers (default 31000: below the\n"
"           ephemeral range, where other clients' sockets cannot hold it)\n"
"  -A       do not rotate source addresses (all from 127.0.0.1)\n"
"  -N       run in a new network namespace of our own (needs CAP_SYS_ADMIN)\n"
"  -P       pin worker i to CPU i\n"
"  -v       per-second rates on stderr\n"
"Prints one JSON line: connections/s over the window, totals, errors.\n");
}

static double parse_double(const char *s, const char *what)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end || v < 0) {
		fprintf(stderr, "tcpflow-loadgen: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

static int parse_int(const char *s, const char *what, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end || v < lo || v > hi) {
		fprintf(stderr, "tcpflow-loadgen: bad %s: %s (%ld..%ld)\n", what, s, lo, hi);
		exit(2);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.workers = 2, .duration = 5, .warmup = 1, .mode = CLOSE_CLIENT,
		.port = 31000, .rotate = 1,
	};
	struct sigaction sa;
	struct worker *ws;
	double t0, t1, tstart, tend;
	uint64_t c0, c1, errors = 0;
	int *held = NULL, opt, first_errno = 0;
	pid_t hold_child = 0;
	const char *first_errop = NULL;

	while ((opt = getopt(argc, argv, "w:d:W:n:m:H:p:ANPvh")) != -1) {
		switch (opt) {
		case 'w': o.workers = parse_int(optarg, "workers", 1, MAX_WORKERS); break;
		case 'd': o.duration = parse_double(optarg, "duration"); break;
		case 'W': o.warmup = parse_double(optarg, "warm-up"); break;
		case 'n': {
			char *end;

			o.count = strtoull(optarg, &end, 10);
			if (!*optarg || *end || !o.count) {
				fprintf(stderr, "tcpflow-loadgen: bad count: %s\n", optarg);
				return 2;
			}
			break;
		}
		case 'm':
			if (!strcmp(optarg, "client"))
				o.mode = CLOSE_CLIENT;
			else if (!strcmp(optarg, "server"))
				o.mode = CLOSE_SERVER;
			else if (!strcmp(optarg, "reset"))
				o.mode = CLOSE_RESET;
			else {
				fprintf(stderr, "tcpflow-loadgen: bad close mode: %s (client, server, reset)\n",
					optarg);
				return 2;
			}
			break;
		case 'H': o.hold = parse_int(optarg, "hold count", 0, HOLD_MAX); break;
		case 'p': o.port = parse_int(optarg, "port", 1024, 65535 - MAX_WORKERS - 1); break;
		case 'A': o.rotate = 0; break;
		case 'N': o.netns = 1; break;
		case 'P': o.pin = 1; break;
		case 'v': o.verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	if (o.netns) {
		if (unshare(CLONE_NEWNET))
			die("unshare(CLONE_NEWNET): %s (needs root)", strerror(errno));
		lo_up();
	}

	if (o.hold)
		held = hold_open(&o, o.hold, &hold_child);

	ws = aligned_alloc(64, sizeof(*ws) * o.workers);
	if (!ws)
		die("out of memory");
	memset(ws, 0, sizeof(*ws) * o.workers);
	for (int i = 0; i < o.workers; i++) {
		ws[i].id = i;
		ws[i].o = &o;
		ws[i].lfd = make_listener(o.port + i, 4096);
		if (o.count)
			ws[i].quota = o.count / o.workers + (i == 0 ? o.count % o.workers : 0);
	}
	tstart = now_s();
	for (int i = 0; i < o.workers; i++) {
		int e = pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);

		if (e)
			die("pthread_create: %s", strerror(e));
	}

	if (o.count) {
		t0 = tstart;
		c0 = 0;
		if (o.verbose) {
			uint64_t last = 0;

			while (total_done(ws, o.workers) < o.count && !got_signal) {
				uint64_t now;

				sleep_s(1);
				now = total_done(ws, o.workers);
				fprintf(stderr, "%llu conn/s\n", (unsigned long long)(now - last));
				last = now;
			}
		}
		for (int i = 0; i < o.workers; i++)
			pthread_join(ws[i].thread, NULL);
		t1 = now_s();
		c1 = total_done(ws, o.workers);
	} else {
		sleep_s(o.warmup);
		t0 = now_s();
		c0 = total_done(ws, o.workers);
		if (o.verbose) {
			uint64_t last = c0;

			for (double end = t0 + o.duration; now_s() < end && !got_signal;) {
				double left = end - now_s();
				uint64_t now;

				sleep_s(left < 1 ? left : 1);
				now = total_done(ws, o.workers);
				fprintf(stderr, "%llu conn/s\n", (unsigned long long)(now - last));
				last = now;
			}
		} else {
			sleep_s(o.duration);
		}
		t1 = now_s();
		c1 = total_done(ws, o.workers);
		atomic_store(&stop_flag, 1);
		for (int i = 0; i < o.workers; i++)
			pthread_join(ws[i].thread, NULL);
	}
	tend = now_s();

	for (int i = 0; i < o.workers; i++) {
		uint64_t e = atomic_load(&ws[i].errors);

		if (e && !first_errop) {
			first_errop = ws[i].first_errop;
			first_errno = ws[i].first_errno;
		}
		errors += e;
	}
	printf("{\"tool\":\"tcpflow-loadgen\",\"mode\":\"%s\",\"workers\":%d,\"rotate\":%s,"
	       "\"netns\":%s,\"window_s\":%.6f,\"window_conns\":%llu,\"rate\":%.1f,"
	       "\"total_conns\":%llu,\"run_s\":%.6f,\"held\":%d,\"errors\":%llu,"
	       "\"first_error\":\"%s%s%s\",\"interrupted\":%s}\n",
	       mode_names[o.mode], o.workers, o.rotate ? "true" : "false",
	       o.netns ? "true" : "false", t1 - t0, (unsigned long long)(c1 - c0),
	       t1 > t0 ? (c1 - c0) / (t1 - t0) : 0.0, (unsigned long long)total_done(ws, o.workers),
	       tend - tstart, o.hold, (unsigned long long)errors,
	       first_errop ? first_errop : "", first_errop ? ": " : "",
	       first_errop ? strerror(first_errno) : "", got_signal ? "true" : "false");
	fflush(stdout);

	if (hold_child) {
		kill(hold_child, SIGKILL);
		waitpid(hold_child, NULL, 0);
		for (int i = 0; i < o.hold; i++)
			close(held[i]);
		free(held);
	}
	if (got_signal)
		return 1;
	/* A run where most attempts failed measured nothing. */
	if (errors > (c1 - c0) / 100 + 100) {
		fprintf(stderr, "tcpflow-loadgen: %llu failed connections (first: %s: %s)\n",
			(unsigned long long)errors, first_errop, strerror(first_errno));
		return 1;
	}
	return 0;
}
