/*
 * smtpsec-hsbench: the raw wolfSSL TLS 1.3 handshake rate between two
 * processes on loopback, the reference for the gateway's one-Email-per-
 * connection rate (make bench: handshake_ratio).
 *
 *   smtpsec-hsbench --cert PEM --key PEM --cafile PEM --servername NAME
 *       [--workers W] [--concurrency C] [--count N] [--max-seconds S] [--resume]
 *       [--group p256|x25519] [--cipher LIST] [--server-cipher LIST]
 *       [--nodelay both|server|client|none] [--no-ticket]
 *
 * The parent listens on 127.0.0.1 (an ephemeral port) and forks W server
 * processes that share the listening socket, as the gateway's workers do.
 * Each server is set up like the gateway's (receiver/rcv_tls.c): TLS 1.3
 * server method, certificate chain and key from PEM files, no client
 * certificate, wolfSSL's default cipher suites, groups and session tickets,
 * SSL_MODE_AUTO_RETRY cleared.
 * After its handshake a server writes 12 bytes (the size of the gateway's
 * ServerHello frame) and waits for the client to close.
 *
 * The parent is the client, set up like smtpsec-send: TLS 1.3 client
 * method, the server certificate verified against --cafile, SNI and name
 * check.  C connections at a time; each connects, completes the handshake,
 * reads the 12 bytes (so a NewSessionTicket is consumed too), sends
 * close_notify and closes.  No session resumption unless --resume (then
 * each slot resumes the session of its previous connection).  The key
 * share is wolfSSL's default (as smtpsec-send's) unless --group names one.
 * Both sides set TCP_NODELAY unless --nodelay says otherwise: wolfSSL
 * writes a handshake flight (and the session ticket after it) in several
 * send() calls, and with Nagle on the sender and delayed ACK on the peer
 * a handshake waits ~40 ms for an ACK; the reference is wolfSSL's rate,
 * not that stall.
 *
 * Bounded: stops after N handshakes or S seconds; the servers are stopped
 * by PID (SIGTERM, then SIGKILL) and reaped before exit.  Prints one line:
 *
 *   hsbench handshakes=N failed=N seconds=S hs_per_s=X server_cpu_us_per_hs=X
 *       client_cpu_us_per_hs=X version=... cipher=... group=... resumed=N workers=W concurrency=C
 *
 * Exit 0 when every handshake counted succeeded, 1 otherwise, 2 on setup errors.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "tests/lib/tutil.h"

#define HS_MAX_WORKERS 64
#define HS_MAX_CONC 1024
#define HS_HELLO_LEN 12

struct hs_opts {
	const char *cert, *key, *cafile, *servername;
	unsigned long workers, concurrency, count;
	double max_seconds;
	int resume;
	int group;		/* 0: wolfSSL's default key share; else a WOLFSSL_ECC_* / WOLFSSL_* group */
	const char *cipher, *server_cipher;
	int no_ticket;	/* suite lists; NULL: wolfSSL's default */
	int nodelay_server, nodelay_client;	/* TCP_NODELAY on each side's sockets */
};

/* one connection slot, client or server side */
struct hs_conn {
	int fd;
	WOLFSSL *ssl;		/* owned */
	WOLFSSL_SESSION *sess;	/* owned: the session to resume (client, --resume) */
	int hs_done;
	int want_write;		/* client: connecting, or wolfSSL would block on writing */
	size_t got;		/* hello bytes read (client) or written (server) */
};

static volatile sig_atomic_t stop_server;

static void
on_term(int sig)
{
	(void)sig;
	stop_server = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: smtpsec-hsbench --cert PEM --key PEM --cafile PEM --servername NAME\n"
	    "          [--workers W (2)] [--concurrency C (16)] [--count N (5000)]\n"
	    "          [--max-seconds S (30)] [--resume] [--group p256|x25519]\n"
	    "          [--cipher LIST] [--server-cipher LIST] [--nodelay both|server|client|none]\n"
	    "          [--no-ticket]\n"
	    "  --no-ticket: the server sends no TLS 1.3 session ticket (the gateway does)\n"
	    "  --group: the client's key share (default: wolfSSL's, as smtpsec-send)\n"
	    "  --cipher, --server-cipher: TLS 1.3 suite lists of client and server (default: wolfSSL's)\n"
	    "  --nodelay: which side sets TCP_NODELAY (default both: wolfSSL sends a flight as\n"
	    "             several writes, and Nagle + delayed ACK would add ~40 ms per handshake)\n");
}

static void
conn_reset(struct hs_conn *c)
{
	if (c->ssl) {
		wolfSSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->hs_done = 0;
	c->got = 0;
}

/* --- server: one process of W, sharing the listening socket ---------------------------- */

/* Advance one server connection; -1 when it is finished (closed or failed). */
static int
server_step(struct hs_conn *c)
{
	static const uint8_t hello[HS_HELLO_LEN] = { 0 };
	uint8_t buf[256];
	int r;

	if (!c->hs_done) {
		r = wolfSSL_accept(c->ssl);
		if (r != WOLFSSL_SUCCESS) {
			r = wolfSSL_get_error(c->ssl, r);
			return (r == WOLFSSL_ERROR_WANT_READ || r == WOLFSSL_ERROR_WANT_WRITE) ? 0 : -1;
		}
		c->hs_done = 1;
	}
	while (c->got < HS_HELLO_LEN) {
		r = wolfSSL_write(c->ssl, hello + c->got, (int)(HS_HELLO_LEN - c->got));
		if (r > 0) {
			c->got += (size_t)r;
			continue;
		}
		r = wolfSSL_get_error(c->ssl, r);
		return (r == WOLFSSL_ERROR_WANT_READ || r == WOLFSSL_ERROR_WANT_WRITE) ? 0 : -1;
	}
	for (;;) {	/* the client closes; anything it sends is dropped */
		r = wolfSSL_read(c->ssl, buf, sizeof(buf));
		if (r > 0)
			continue;
		r = wolfSSL_get_error(c->ssl, r);
		return (r == WOLFSSL_ERROR_WANT_READ || r == WOLFSSL_ERROR_WANT_WRITE) ? 0 : -1;
	}
}

static int
server_run(WOLFSSL_CTX *ctx, int lfd, unsigned long max_conns, int nodelay)
{
	int one = 1;
	struct hs_conn *cs = mem_calloc(max_conns, sizeof(*cs));
	struct pollfd *pfd = mem_calloc(max_conns + 1, sizeof(*pfd));
	size_t i, n = 0;

	for (i = 0; i < max_conns; i++)
		cs[i].fd = -1;
	while (!stop_server) {
		pfd[0].fd = n < max_conns ? lfd : -1;
		pfd[0].events = POLLIN;
		for (i = 0; i < max_conns; i++) {
			pfd[i + 1].fd = cs[i].fd;
			pfd[i + 1].events = POLLIN;
		}
		if (poll(pfd, max_conns + 1, 200) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN) {
			int fd;

			while (n < max_conns && (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
				for (i = 0; i < max_conns && cs[i].fd >= 0; i++)
					;
				if (nodelay)
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				cs[i].fd = fd;
				cs[i].ssl = wolfSSL_new(ctx);
				if (cs[i].ssl == NULL || wolfSSL_set_fd(cs[i].ssl, fd) != WOLFSSL_SUCCESS) {
					conn_reset(&cs[i]);
					continue;
				}
				n++;
				if (server_step(&cs[i]) < 0) {
					conn_reset(&cs[i]);
					n--;
				}
			}
		}
		for (i = 0; i < max_conns; i++) {
			if (cs[i].fd < 0 || !(pfd[i + 1].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			if (server_step(&cs[i]) < 0) {
				conn_reset(&cs[i]);
				n--;
			}
		}
	}
	for (i = 0; i < max_conns; i++)
		conn_reset(&cs[i]);
	free(cs);
	free(pfd);
	return 0;
}

/* --- client ------------------------------------------------------------------------------- */

struct hs_result {
	unsigned long done, failed, resumed;
	char version[32], cipher[64], group[32];
};

static int
client_open(WOLFSSL_CTX *ctx, const struct hs_opts *o, unsigned port, struct hs_conn *c)
{
	struct sockaddr_in sa;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	if (o->nodelay_client)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		conn_reset(c);
		return -1;
	}
	c->ssl = wolfSSL_new(ctx);
	if (c->ssl == NULL || wolfSSL_set_fd(c->ssl, c->fd) != WOLFSSL_SUCCESS) {
		conn_reset(c);
		return -1;
	}
	wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, o->servername, (unsigned short)strlen(o->servername));
	wolfSSL_check_domain_name(c->ssl, o->servername);
	if (o->group && wolfSSL_UseKeyShare(c->ssl, (word16)o->group) != WOLFSSL_SUCCESS) {
		conn_reset(c);
		return -1;
	}
	if (o->resume && c->sess)
		wolfSSL_set_session(c->ssl, c->sess);
	c->want_write = 1;	/* POLLOUT: the connect completes */
	return 0;
}

/* Advance one client connection: 1 handshake finished, 0 in progress, -1 failed. */
static int
client_step(struct hs_conn *c, const struct hs_opts *o, struct hs_result *res)
{
	uint8_t buf[256];
	int r;

	c->want_write = 0;
	if (!c->hs_done) {
		r = wolfSSL_connect(c->ssl);
		if (r != WOLFSSL_SUCCESS) {
			r = wolfSSL_get_error(c->ssl, r);
			c->want_write = r == WOLFSSL_ERROR_WANT_WRITE;
			if (r == WOLFSSL_ERROR_WANT_READ || r == WOLFSSL_ERROR_WANT_WRITE)
				return 0;
			if (res->failed == 0) {
				char e[WOLFSSL_MAX_ERROR_SZ];

				wolfSSL_ERR_error_string_n((unsigned long)r, e, sizeof(e));
				fprintf(stderr, "smtpsec-hsbench: handshake failed: %s\n", e);
			}
			return -1;
		}
		c->hs_done = 1;
	}
	while (c->got < HS_HELLO_LEN) {
		r = wolfSSL_read(c->ssl, buf, (int)(HS_HELLO_LEN - c->got));
		if (r > 0) {
			c->got += (size_t)r;
			continue;
		}
		r = wolfSSL_get_error(c->ssl, r);
		c->want_write = r == WOLFSSL_ERROR_WANT_WRITE;
		return (r == WOLFSSL_ERROR_WANT_READ || r == WOLFSSL_ERROR_WANT_WRITE) ? 0 : -1;
	}
	if (res->done == 0) {
		const char *g = wolfSSL_get_curve_name(c->ssl);

		snprintf(res->version, sizeof(res->version), "%s", wolfSSL_get_version(c->ssl));
		snprintf(res->cipher, sizeof(res->cipher), "%s", wolfSSL_get_cipher_name(c->ssl));
		snprintf(res->group, sizeof(res->group), "%s", g ? g : "none");
	}
	if (wolfSSL_session_reused(c->ssl))
		res->resumed++;
	if (o->resume) {
		if (c->sess)
			wolfSSL_SESSION_free(c->sess);
		c->sess = wolfSSL_get1_session(c->ssl);
	}
	wolfSSL_shutdown(c->ssl);	/* close_notify, as smtpsec-send does */
	return 1;
}

static int
client_run(WOLFSSL_CTX *ctx, const struct hs_opts *o, unsigned port, struct hs_result *res,
    double *secs_r)
{
	struct hs_conn *cs = mem_calloc(o->concurrency, sizeof(*cs));
	struct pollfd *pfd = mem_calloc(o->concurrency, sizeof(*pfd));
	unsigned long started = 0, i;
	double t0 = tutil_now();
	int alive = 1;

	for (i = 0; i < o->concurrency; i++)
		cs[i].fd = -1;
	while (alive) {
		alive = 0;
		for (i = 0; i < o->concurrency; i++) {
			if (cs[i].fd < 0 && started < o->count && tutil_now() - t0 < o->max_seconds) {
				if (client_open(ctx, o, port, &cs[i]) < 0) {
					res->failed++;
					started++;
					continue;
				}
				started++;
			}
			pfd[i].fd = cs[i].fd;
			/* POLLOUT only while it is needed: a connected socket is
			 * writable, and asking for it through the handshake made
			 * this loop spin (as smtpsec-send's load mode did) */
			pfd[i].events = POLLIN | (cs[i].want_write ? POLLOUT : 0);
			if (cs[i].fd >= 0)
				alive = 1;
		}
		if (!alive)
			break;
		if (poll(pfd, o->concurrency, 200) < 0 && errno != EINTR)
			break;
		for (i = 0; i < o->concurrency; i++) {
			int r;

			if (cs[i].fd < 0 || pfd[i].revents == 0)
				continue;
			r = client_step(&cs[i], o, res);
			if (r == 0)
				continue;
			if (r > 0)
				res->done++;
			else
				res->failed++;
			conn_reset(&cs[i]);
		}
		if (tutil_now() - t0 > o->max_seconds + 5)	/* stragglers: give up */
			break;
	}
	*secs_r = tutil_now() - t0;
	for (i = 0; i < o->concurrency; i++) {
		conn_reset(&cs[i]);
		if (cs[i].sess)
			wolfSSL_SESSION_free(cs[i].sess);
	}
	free(cs);
	free(pfd);
	return 0;
}

/* --- main --------------------------------------------------------------------------------- */

static void
stop_children(pid_t *pids, unsigned long n)
{
	unsigned long i;
	int k;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (i = 0; i < n; i++) {
		if (pids[i] <= 0)
			continue;
		for (k = 0; k < 50; k++) {	/* 5 s, then SIGKILL */
			if (waitpid(pids[i], NULL, WNOHANG) == pids[i])
				break;
			usleep(100000);
		}
		if (k == 50) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
		pids[i] = 0;
	}
}

static double
cpu_us(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e6 +
	    (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cert", 1, NULL, 'c' }, { "key", 1, NULL, 'k' }, { "cafile", 1, NULL, 'A' },
		{ "servername", 1, NULL, 'N' }, { "workers", 1, NULL, 'w' },
		{ "concurrency", 1, NULL, 'j' }, { "count", 1, NULL, 'n' },
		{ "max-seconds", 1, NULL, 'M' }, { "resume", 0, NULL, 'R' }, { "group", 1, NULL, 'g' },
		{ "nodelay", 1, NULL, 'D' }, { "cipher", 1, NULL, 'C' }, { "server-cipher", 1, NULL, 'S' }, { "no-ticket", 0, NULL, 'T' }, { "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hs_opts o = { .workers = 2, .concurrency = 16, .count = 5000, .max_seconds = 30,
		.nodelay_server = 1, .nodelay_client = 1 };
	struct hs_result res;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	WOLFSSL_CTX *sctx = NULL, *cctx = NULL;
	pid_t pids[HS_MAX_WORKERS] = { 0 };
	struct rusage ru_self, ru_kids;
	double secs = 0;
	unsigned long i;
	int ch, lfd = -1, one = 1, rc = 2;

	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		case 'A': o.cafile = optarg; break;
		case 'N': o.servername = optarg; break;
		case 'w': o.workers = strtoul(optarg, NULL, 10); break;
		case 'j': o.concurrency = strtoul(optarg, NULL, 10); break;
		case 'n': o.count = strtoul(optarg, NULL, 10); break;
		case 'M': o.max_seconds = atof(optarg); break;
		case 'R': o.resume = 1; break;
		case 'C': o.cipher = optarg; break;
		case 'D':
			o.nodelay_server = strcmp(optarg, "both") == 0 || strcmp(optarg, "server") == 0;
			o.nodelay_client = strcmp(optarg, "both") == 0 || strcmp(optarg, "client") == 0;
			if (!o.nodelay_server && !o.nodelay_client && strcmp(optarg, "none") != 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'S': o.server_cipher = optarg; break;
		case 'T': o.no_ticket = 1; break;
		case 'g':
			if ((o.group = tutil_tls_group(optarg)) < 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!o.cert || !o.key || !o.cafile || !o.servername || o.workers == 0 ||
	    o.workers > HS_MAX_WORKERS || o.concurrency == 0 || o.concurrency > HS_MAX_CONC ||
	    o.count == 0 || !(o.max_seconds > 0)) {
		usage(stderr);
		return 2;
	}
	memset(&res, 0, sizeof(res));
	signal(SIGPIPE, SIG_IGN);
	wolfSSL_Init();

	/* the server context, as receiver/rcv_tls.c makes it */
	sctx = wolfSSL_CTX_new(wolfTLSv1_3_server_method());
	if (sctx == NULL || wolfSSL_CTX_use_certificate_chain_file(sctx, o.cert) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(sctx, o.key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_check_private_key(sctx) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "smtpsec-hsbench: cannot load %s / %s\n", o.cert, o.key);
		goto done;
	}
	wolfSSL_CTX_set_verify(sctx, WOLFSSL_VERIFY_NONE, NULL);
	/* no recv() retried 10 times on EAGAIN in the handshake (rcv_tls.c) */
#if defined(OPENSSL_EXTRA) || defined(HAVE_WEBSERVER)
	wolfSSL_CTX_clear_mode(sctx, SSL_MODE_AUTO_RETRY);
#endif
	if (o.no_ticket)
		wolfSSL_CTX_no_ticket_TLSv13(sctx);
	if (o.server_cipher && wolfSSL_CTX_set_cipher_list(sctx, o.server_cipher) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "smtpsec-hsbench: bad --server-cipher %s\n", o.server_cipher);
		goto done;
	}
	/* the client context, as smtpsec-send makes it */
	cctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	if (cctx == NULL || wolfSSL_CTX_load_verify_locations(cctx, o.cafile, NULL) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "smtpsec-hsbench: cannot load %s\n", o.cafile);
		goto done;
	}
#if defined(OPENSSL_EXTRA) || defined(HAVE_WEBSERVER)
	wolfSSL_CTX_clear_mode(cctx, SSL_MODE_AUTO_RETRY);	/* as smtpsec-send */
#endif
	if (o.cipher && wolfSSL_CTX_set_cipher_list(cctx, o.cipher) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "smtpsec-hsbench: bad --cipher %s\n", o.cipher);
		goto done;
	}

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1024) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
		fprintf(stderr, "smtpsec-hsbench: listen: %s\n", strerror(errno));
		goto done;
	}
	for (i = 0; i < o.workers; i++) {
		pid_t p = fork();

		if (p < 0) {
			fprintf(stderr, "smtpsec-hsbench: fork: %s\n", strerror(errno));
			stop_children(pids, i);
			goto done;
		}
		if (p == 0) {
			signal(SIGTERM, on_term);
			alarm((unsigned)o.max_seconds + 30);	/* never outlive a lost parent */
			wolfSSL_CTX_free(cctx);
			server_run(sctx, lfd, HS_MAX_CONC, o.nodelay_server);
			wolfSSL_CTX_free(sctx);
			wolfSSL_Cleanup();
			_exit(0);
		}
		pids[i] = p;
	}
	close(lfd);
	lfd = -1;

	client_run(cctx, &o, ntohs(sa.sin_port), &res, &secs);
	stop_children(pids, o.workers);
	getrusage(RUSAGE_SELF, &ru_self);
	getrusage(RUSAGE_CHILDREN, &ru_kids);
	printf("hsbench handshakes=%lu failed=%lu seconds=%.3f hs_per_s=%.1f server_cpu_us_per_hs=%.0f "
	    "client_cpu_us_per_hs=%.0f version=%s cipher=%s group=%s resumed=%lu workers=%lu "
	    "concurrency=%lu\n",
	    res.done, res.failed, secs, secs > 0 ? (double)res.done / secs : 0.0,
	    res.done ? cpu_us(&ru_kids) / (double)res.done : 0.0,
	    res.done ? cpu_us(&ru_self) / (double)res.done : 0.0,
	    res.version[0] ? res.version : "none", res.cipher[0] ? res.cipher : "none",
	    res.group[0] ? res.group : "none", res.resumed, o.workers, o.concurrency);
	rc = (res.done > 0 && res.failed == 0) ? 0 : 1;
done:
	if (lfd >= 0)
		close(lfd);
	if (sctx)
		wolfSSL_CTX_free(sctx);
	if (cctx)
		wolfSSL_CTX_free(cctx);
	wolfSSL_Cleanup();
	return rc;
}
