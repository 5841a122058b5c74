/*
 * smtpsec-send: the SMTPsec sender.
 *
 * Product modes: --pipe (a Postfix pipe(8) transport, snd_pipe.c; sysexits
 * statuses) and --print-srv DOMAIN (the SRV targets in this run's RFC 2782
 * order).  Everything else is the test client and load generator the test
 * suite drives (--connect, --to-domain, --insecure, --tamper, --raw-hex,
 * --load, ...): those options are refused unless SMTPSEC_TEST_MODE=1 is in
 * the environment, like the gateway's --insecure-skip-chain-checks.
 * Test mode exits 0 when every Email got EmailDelivered, 1 when not, 2 on
 * a connection or setup failure.  A usage error (unknown option, a number
 * that is not one) is 64 (EX_USAGE), except with --pipe, where it is 75:
 * a master.cf mistake defers the mail rather than bouncing it.
 *
 * The options that make a sender misbehave on purpose (--insecure,
 * --tamper, --tls12, --chain-index, --raw-hex, --no-hello,
 * --hello-version, --wait) exist only when compiled with
 * SMTPSEC_TEST_HOOKS: in the build tree's smtpsec-send the tests run, not in
 * the one `make install` installs (Makefile: build/product/).
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/cli.h"
#include "base/mem.h"
#include "base/hex.h"
#include "base/sys.h"
#include "verify/vfy.h"
#include "wire/wire.h"
#include "sender/snd.h"

#define MAX_ITEMS 256

#define SND_DEFAULT_TRUST_ANCHOR	"/usr/share/dns/root.key"
#define SND_DEFAULT_CAFILE		"/etc/ssl/certs/ca-certificates.crt"
#define SND_DEFAULT_CT_LOGS		"/etc/smtpsec/log_list.json"

struct frame {
	uint8_t *p;
	size_t len;
	size_t msg_bytes;
};

struct opts {
	const char *connect, *cafile, *servername, *key, *chain;
	int insecure, tls12, tamper, require_security, quiet, no_hello;
	uint32_t chain_index;
	int hello_version, load;
	const char *msgs[MAX_ITEMS];
	size_t n_msgs;
	const char *rcpt[MAX_ITEMS];
	size_t n_rcpt;
	const char *trace[MAX_ITEMS];
	size_t n_trace;
	const char *raw[MAX_ITEMS];
	size_t n_raw;
	unsigned long count, concurrency, size, window;
	unsigned long per_conn, from_domains, from_first;	/* load mode */
	int group, nodelay;
	const char *cipher;
	double max_seconds, wait_seconds;
	const char *from;
	const char *to_domain, *unbound_conf, *trust_anchor, *ct_log_list;
	int pipe, trust_anchor_set, cafile_set, ct_set;
	const char *keys, *print_srv;
	unsigned timeout;
	const char *resolve[MAX_ITEMS];
	size_t n_resolve;
};

struct sconn {
	int fd;
	WOLFSSL *ssl;
	int hs_done, closed, failed;
	int want_write;		/* wolfSSL's last call would block on writing */
	struct buf out, in;
	struct wire *w;
	size_t next;		/* next Email index to queue */
	size_t total;		/* Emails this connection sends */
	size_t answered;
	uint32_t first_email_no;
	double *sent_at;
	int got_bye;
	double last_rx;
};

static struct opts o;
static struct frame *frames;	/* one per distinct message */
static size_t n_frames;
static uint8_t *raw_bytes;
static size_t raw_len;
static unsigned long n_delivered, n_failed, n_answered;
static double *lat;
static size_t n_lat;
static uint64_t bytes_sent_msgs;
static size_t next_frame;		/* --from-domains: every Email its own frame */
static unsigned long emails_left;	/* --per-conn: not yet given to a connection */
static unsigned long n_conns, n_conns_failed;

/* A TLS key-share group by name: the wolfSSL value, or -1. */
static int
snd_tls_group(const char *name)
{
	if (strcmp(name, "p256") == 0)
		return WOLFSSL_ECC_SECP256R1;
	if (strcmp(name, "x25519") == 0)
		return WOLFSSL_ECC_X25519;
	return -1;
}

#ifdef SMTPSEC_TEST_HOOKS
/* Hex (whitespace ignored) into a malloc'd buffer; NULL when malformed. */
static uint8_t *
snd_hex(const char *hex, size_t *len_r)
{
	return hex_decode(hex, 1, len_r);
}
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: smtpsec-send --pipe --keys FILE [--unbound-conf FILE] [--trust-anchor FILE]\n"
	    "          [--cafile FILE] [--ct-log-list FILE] [--timeout SECONDS] RCPT...\n"
	    "       smtpsec-send --print-srv DOMAIN [--unbound-conf FILE] [--trust-anchor FILE]\n"
	    "  --pipe                 read one message on stdin, deliver it to RCPT... (Postfix pipe(8));\n"
	    "                         exit 0 delivered, 75 deferred, 67 unknown user, 69 refused\n"
	    "  --keys FILE            lines 'DOMAIN KEY.pem CHAIN.pem' (# comments)\n"
	    "  --unbound-conf FILE    resolver configuration (default: none)\n"
	    "  --trust-anchor FILE    DNSSEC trust anchor (default without --unbound-conf:\n"
	    "                         " SND_DEFAULT_TRUST_ANCHOR ")\n"
	    "  --cafile FILE          PKIX trust anchors (default " SND_DEFAULT_CAFILE ")\n"
	    "  --ct-log-list FILE     CT log list (default " SND_DEFAULT_CT_LOGS ")\n"
	    "  --timeout SECONDS      bound on the whole delivery (default 300)\n"
	    "  --print-srv DOMAIN     print the SRV targets in this run's RFC 2782 order\n"
	    "  -h, --help             this text\n"
	    "      --version          print the version\n"
	    "exit (but --pipe): 0 ok, 64 usage, 69 no SRV target, 75 temporary failure\n"
	    "Test mode only (SMTPSEC_TEST_MODE=1 in the environment):\n"
#ifdef SMTPSEC_TEST_HOOKS
	    "       smtpsec-send --connect HOST:PORT (--cafile PEM | --insecure) --key KEY.pem\n"
#else
	    "       smtpsec-send --connect HOST:PORT --cafile PEM --key KEY.pem\n"
#endif
	    "          --chain CHAIN.pem --rcpt ADDR... (--message FILE... | --size BYTES --from ADDR)\n"
	    "  --count N              send N copies (of each message)\n"
	    "  --concurrency C        C connections (load mode)\n"
	    "  --load                 print a load summary line\n"
	    "  --max-seconds S        stop after S seconds (default 300)\n"
	    "  --trace 'Name: value'  trace header (repeatable)\n"
	    "  --require-security 0|1\n"
	    "  --servername NAME      SNI / name to verify (default the host)\n"
#ifdef SMTPSEC_TEST_HOOKS
	    "Test hooks (not in the installed program):\n"
	    "  --insecure             do not verify the server's certificate\n"
	    "  --tamper               flip a byte of the message after signing\n"
	    "  --tls12                offer TLS 1.2 only\n"
	    "  --chain-index N        certificate_chain index to use\n"
	    "  --raw-hex HEX          send a raw frame after the hello (repeatable)\n"
	    "  --no-hello             do not send a ClientHello\n"
	    "  --hello-version N      ClientHello version (default 0)\n"
	    "  --wait S               with raw frames: wait S s for replies (default 1)\n"
#endif
	    "  --quiet\n"
	    "Load mode:\n"
	    "  --per-conn N           at most N Emails per connection, then a new one\n"
	    "                         (1: one Email per connection, handshake-bound)\n"
	    "  --from-domains N       N Emails with --from's domain D changed to dI.D\n"
	    "                         (I from --from-first, default 0); each sent once per --count\n"
	    "  --group p256|x25519    the TLS key share (default: wolfSSL's)\n"
	    "  --cipher LIST          TLS 1.3 suites in preference order (wolfSSL names)\n"
	    "  --nodelay              TCP_NODELAY on the connections\n"
	    "Discovery (SMTPSEC.md 10), instead of --connect:\n"
	    "  --to-domain DOMAIN     DNSSEC SRV _smtpsec._tcp.DOMAIN, then TLSA/PKIX on each target\n"
	    "  --unbound-conf FILE    resolver configuration; --trust-anchor FILE\n"
	    "  --cafile PEM           PKIX store for targets without a DANE-EE record\n"
	    "  --resolve NAME:PORT:ADDR  connect to ADDR for that target (tests)\n");
}

static int
build_frame(struct snd_key *key, const uint8_t *msg, size_t len, struct frame *f)
{
	struct buf b = { 0 };
	struct wire_email_out e;
	struct wire_ext_out ext = { .require_security = o.require_security };
	struct wire_header th[MAX_ITEMS];
	struct wire_bytes rc[MAX_ITEMS];
	uint8_t sig[132];
	size_t sl, i;
	uint8_t *m = mem_alloc(len ? len : 1);

	memcpy(m, msg, len);
	if (snd_sign(key, m, len, sig, &sl) < 0) {
		free(m);
		return -1;
	}
	if (o.tamper && len)
		m[len / 2] ^= 0x01;
	for (i = 0; i < o.n_trace; i++) {
		const char *c = strchr(o.trace[i], ':');
		const char *v;

		if (c == NULL)
			return -1;
		v = c + 1;
		while (*v == ' ')
			v++;
		th[i].name.p = (const uint8_t *)o.trace[i];
		th[i].name.len = (size_t)(c - o.trace[i]);
		th[i].value.p = (const uint8_t *)v;
		th[i].value.len = strlen(v);
	}
	for (i = 0; i < o.n_rcpt; i++) {
		rc[i].p = (const uint8_t *)o.rcpt[i];
		rc[i].len = strlen(o.rcpt[i]);
	}
	memset(&e, 0, sizeof(e));
	e.chain_index = o.chain_index;
	e.algorithm = snd_key_alg(key);
	e.signature.p = sig;
	e.signature.len = sl;
	e.trace = th;
	e.n_trace = o.n_trace;
	e.rcpt = rc;
	e.n_rcpt = o.n_rcpt;
	if (wire_enc_email(&b, &ext, &e, m, len) < 0) {
		free(m);
		return -1;
	}
	free(m);
	f->p = b.p;
	f->len = b.len;
	f->msg_bytes = len;
	return 0;
}

static int
tcp_connect(const char *hostport)
{
	char host[256], *colon;
	struct addrinfo hints, *res, *ai;
	int fd = -1;

	snprintf(host, sizeof(host), "%s", hostport);
	colon = strrchr(host, ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		sys_set_nonblock(fd);
	return fd;
}

static void
print_reply(const struct wire_frame *f)
{
	size_t i;

	if (o.quiet)
		return;
	if (f->type == WIRE_MSG_EMAIL_DELIVERED) {
		printf("reply n=%u email_delivered\n", f->email);
		return;
	}
	if (f->type == WIRE_MSG_SERVER_HELLO) {
		printf("server_hello version=%u\n", f->version);
		return;
	}
	if (f->type != WIRE_MSG_ERROR) {
		printf("server_message type=%u\n", (unsigned)f->type);
		return;
	}
	if (f->has_ref)
		printf("reply n=%u error=%s", f->ref, wire_err_name(f->code));
	else
		printf("reply n=none error=%s", wire_err_name(f->code));
	if (f->n_addr) {
		printf(" addresses=");
		for (i = 0; i < f->n_addr; i++)
			printf("%s%.*s", i ? "," : "", (int)f->addr[i].len, (const char *)f->addr[i].p);
	}
	printf("\n");
}

static void
on_reply(struct sconn *c, const struct wire_frame *f)
{
	uint32_t ref;
	size_t idx;

	print_reply(f);
	if (f->type == WIRE_MSG_SERVER_HELLO)
		return;
	if (f->type == WIRE_MSG_ERROR && !f->has_ref) {
		c->got_bye = 1;
		return;
	}
	ref = f->type == WIRE_MSG_EMAIL_DELIVERED ? f->email : f->ref;
	if (ref < c->first_email_no || ref - c->first_email_no >= c->next)
		return;		/* about the hello or a raw frame */
	idx = ref - c->first_email_no;
	c->answered++;
	n_answered++;
	if (f->type == WIRE_MSG_EMAIL_DELIVERED)
		n_delivered++;
	else
		n_failed++;
	if (c->sent_at && c->sent_at[idx] > 0 && lat)
		lat[n_lat++] = snd_now() - c->sent_at[idx];
}

static void
queue_more(struct sconn *c)
{
	while (c->next < c->total && c->next - c->answered < o.window && c->out.len < (1u << 20)) {
		const struct frame *f = o.from_domains ? &frames[next_frame++ % n_frames] :
		    &frames[c->next % n_frames];

		buf_add(&c->out, f->p, f->len);
		bytes_sent_msgs += f->msg_bytes;
		if (c->sent_at)
			c->sent_at[c->next] = snd_now();
		c->next++;
	}
}

/* one step of a connection; returns -1 when it is finished */
static int
step(struct sconn *c, short revents)
{
	uint8_t buf[16384];
	int r;

	c->want_write = 0;
	if (!c->hs_done) {
		r = wolfSSL_connect(c->ssl);
		if (r != WOLFSSL_SUCCESS) {
			r = wolfSSL_get_error(c->ssl, r);
			c->want_write = r == WOLFSSL_ERROR_WANT_WRITE;
			if (r == WOLFSSL_ERROR_WANT_READ || r == WOLFSSL_ERROR_WANT_WRITE)
				return 0;
			wolfSSL_ERR_error_string_n((unsigned long)r, (char *)buf, 80);
			fprintf(stderr, "smtpsec-send: TLS handshake failed: %s\n", (char *)buf);
			c->failed = 1;
			return -1;
		}
		c->hs_done = 1;
		if (!o.quiet && !o.load)
			printf("tls version=%s cipher=%s\n", wolfSSL_get_version(c->ssl),
			    wolfSSL_get_cipher_name(c->ssl));
	}
	queue_more(c);
	while (c->out.len) {
		int n = c->out.len > 16384 ? 16384 : (int)c->out.len;

		r = wolfSSL_write(c->ssl, c->out.p, n);
		if (r > 0) {
			buf_consume(&c->out, (size_t)r);
			queue_more(c);
			continue;
		}
		r = wolfSSL_get_error(c->ssl, r);
		c->want_write = r == WOLFSSL_ERROR_WANT_WRITE;
		if (r == WOLFSSL_ERROR_WANT_WRITE || r == WOLFSSL_ERROR_WANT_READ)
			break;
		c->closed = 1;
		break;
	}
	for (;;) {
		r = wolfSSL_read(c->ssl, buf, sizeof(buf));
		if (r > 0) {
			size_t off = 0;

			c->last_rx = snd_now();
			buf_add(&c->in, buf, (size_t)r);
			while (off < c->in.len) {
				struct wire_frame f;
				size_t used = 0;
				int d = wire_decode(c->w, c->in.p + off, c->in.len - off, &used, &f);

				off += used;
				if (d == 1)
					on_reply(c, &f);
				else if (d == 0)
					break;
				else {
					fprintf(stderr, "smtpsec-send: bad frame from server: %s\n",
					    wire_error(c->w)->why);
					if (wire_error(c->w)->fatal) {
						c->closed = 1;
						break;
					}
				}
			}
			buf_consume(&c->in, off);
			queue_more(c);
			continue;
		}
		r = wolfSSL_get_error(c->ssl, r);
		if (r == WOLFSSL_ERROR_WANT_WRITE)
			c->want_write = 1;
		if (r == WOLFSSL_ERROR_WANT_READ || r == WOLFSSL_ERROR_WANT_WRITE)
			break;
		c->closed = 1;
		break;
	}
	if (c->closed)
		return -1;
	if (c->out.len && c->hs_done)
		c->want_write = 1;	/* queued by the replies just read: written on POLLOUT */
	if (c->answered >= c->total && c->next >= c->total && c->out.len == 0) {
		if (o.n_raw == 0 && o.no_hello == 0)
			return -1;
		if (snd_now() - c->last_rx >= o.wait_seconds)
			return -1;
	}
	return 0;
}

/* Set up one connection for c->total Emails: TCP (or discovery), TLS,
 * the ClientHello and raw frames queued.  -1 on a setup error (message printed). */
static int
conn_open(struct sconn *c, WOLFSSL_CTX *ctx, uint8_t **der, size_t *derl, size_t n_der, char *err,
    size_t errlen)
{
	struct wire_limits lim;
	char host[256], *p;

	n_conns++;
	c->sent_at = mem_calloc(c->total + 1, sizeof(double));
	if (o.to_domain) {
		struct snd_discover_opts d;
		struct snd_disc *disc = NULL;
		char target[300];
		void *sp = NULL;
		int dr;

		memset(&d, 0, sizeof(d));
		d.unbound_conf = o.unbound_conf;
		d.trust_anchor_file = o.trust_anchor;
		d.ca_file = o.cafile;
		d.ct_log_list = o.ct_log_list;
		d.resolve = o.resolve;
		d.n_resolve = o.n_resolve;
		d.verbose = 1;
		dr = snd_disc_new(&disc, &d, err, errlen);
		if (dr == 0)
			dr = snd_disc_connect(disc, o.to_domain, ctx, &c->fd, &sp, target,
			    sizeof(target), err, errlen);
		snd_disc_free(&disc);
		if (dr != 0) {
			fprintf(stderr, "smtpsec-send: %s\n", err);
			return -1;
		}
		c->ssl = sp;
		c->hs_done = 1;
		sys_set_nonblock(c->fd);
	} else
		c->fd = tcp_connect(o.connect);
	if (c->fd < 0) {
		fprintf(stderr, "smtpsec-send: cannot connect to %s\n", o.connect);
		return -1;
	}
	if (o.nodelay) {
		int one = 1;

		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (c->ssl == NULL) {
		c->ssl = wolfSSL_new(ctx);
		wolfSSL_set_fd(c->ssl, c->fd);
		snprintf(host, sizeof(host), "%s", o.servername ? o.servername : o.connect);
		if (!o.servername && (p = strrchr(host, ':')) != NULL)
			*p = '\0';
		wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, host, (unsigned short)strlen(host));
		if (!o.insecure && o.servername)
			wolfSSL_check_domain_name(c->ssl, o.servername);
		if (o.group && wolfSSL_UseKeyShare(c->ssl, (word16)o.group) != WOLFSSL_SUCCESS) {
			fprintf(stderr, "smtpsec-send: cannot set the key share\n");
			return -1;
		}
	}
	wire_limits_default(&lim);
	c->w = wire_new(&lim, NULL, NULL);
	c->last_rx = snd_now();
	/* ClientHello (message 0), raw frames, then the Emails */
	if (!o.no_hello) {
		struct wire_chain chain = { n_der, NULL };
		struct wire_bytes *cb = mem_calloc(n_der + 1, sizeof(*cb));
		size_t k;

		for (k = 0; k < n_der; k++) {
			cb[k].p = der[k];
			cb[k].len = derl[k];
		}
		chain.certs = cb;
		if (wire_enc_client_hello(&c->out, NULL, (uint8_t)o.hello_version, &chain,
		    n_der ? 1 : 0) < 0) {
			free(cb);
			return -1;
		}
		free(cb);
	}
	if (raw_len)
		buf_add(&c->out, raw_bytes, raw_len);
	c->first_email_no = (o.no_hello ? 0 : 1) + (uint32_t)o.n_raw;
	c->want_write = 1;	/* connected, so writable: the first step starts the handshake */
	return 0;
}

/* --per-conn: a finished connection's slot, emptied for the next one */
static void
conn_clear(struct sconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->ssl)
		wolfSSL_free(c->ssl);
	wire_free(&c->w);
	buf_free(&c->out);
	buf_free(&c->in);
	free(c->sent_at);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int
test_mode(void)
{
	const char *t = getenv("SMTPSEC_TEST_MODE");

	return t != NULL && strcmp(t, "1") == 0;
}

/* --print-srv DOMAIN: exit 0 and one line per target, 69 when the domain
 * does not speak SMTPsec, 75 on a DNS failure. */
static int
print_srv(const struct snd_discover_opts *d)
{
	struct snd_disc *disc = NULL;
	struct vfy_srv *srv = NULL;
	size_t n = 0, i;
	char err[512];
	int r;

	if (snd_disc_new(&disc, d, err, sizeof(err)) != 0) {
		fprintf(stderr, "smtpsec-send: %s\n", err);
		return SND_EX_TEMPFAIL;
	}
	r = snd_disc_srv(disc, o.print_srv, &srv, &n, err, sizeof(err));
	snd_disc_free(&disc);
	if (r != 0) {
		fprintf(stderr, "smtpsec-send: %s\n", err);
		return r == -2 ? SND_EX_UNAVAILABLE : SND_EX_TEMPFAIL;
	}
	for (i = 0; i < n; i++)
		printf("srv target=%s port=%u priority=%u weight=%u\n", srv[i].target, srv[i].port,
		    srv[i].priority, srv[i].weight);
	free(srv);
	return SND_EX_OK;
}

/* --pipe and --print-srv; the defaults are the gateway's. */
static int
product_mode(int n_args, const char *const *args, int mixed)
{
	struct snd_pipe_opts po;
	struct snd_discover_opts *d = &po.disc;

	memset(&po, 0, sizeof(po));
	d->unbound_conf = o.unbound_conf;
	d->trust_anchor_file = o.trust_anchor_set ? (o.trust_anchor[0] ? o.trust_anchor : NULL) :
	    o.unbound_conf ? NULL : SND_DEFAULT_TRUST_ANCHOR;
	d->ca_file = o.cafile_set ? (o.cafile[0] ? o.cafile : NULL) :
	    access(SND_DEFAULT_CAFILE, R_OK) == 0 ? SND_DEFAULT_CAFILE : NULL;
	d->ct_log_list = o.ct_set ? (o.ct_log_list[0] ? o.ct_log_list : NULL) :
	    access(SND_DEFAULT_CT_LOGS, R_OK) == 0 ? SND_DEFAULT_CT_LOGS : NULL;
	d->resolve = o.resolve;
	d->n_resolve = o.n_resolve;
	if (o.print_srv && !o.pipe) {
		if (n_args || mixed) {
			usage(stderr);
			return 2;
		}
		d->deadline = snd_now() + o.timeout;
		return print_srv(d);
	}
	if (o.print_srv || o.keys == NULL || n_args == 0 ||
	    (mixed && (o.connect || o.to_domain || o.load || o.n_msgs || o.n_rcpt))) {
		fprintf(stderr, "smtpsec-send: usage: smtpsec-send --pipe --keys FILE [options] "
		    "RCPT... (see --help)\n");
		return SND_EX_TEMPFAIL;	/* a master.cf mistake: defer, do not bounce */
	}
	po.keys = o.keys;
	po.timeout = o.timeout;
	po.rcpt = args;
	po.n_rcpt = (size_t)n_args;
	return snd_pipe_run(&po);
}

/* A usage error: one line and the --help hint on stderr; 64, or with
 * --pipe 75 (defer: a master.cf mistake must not bounce mail). */
static int
usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_err(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_usage_error("smtpsec-send", "%s", msg);
	return o.pipe ? SND_EX_TEMPFAIL : EX_USAGE;
}

static int
bad_number(const char *opt, const char *arg, double min, double max)
{
	return usage_err("--%s: '%s' is not a number from %.15g to %.15g", opt, arg, min, max);
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
#ifdef SMTPSEC_TEST_HOOKS
		{ "insecure", 0, NULL, 'I' }, { "tamper", 0, NULL, 'X' }, { "tls12", 0, NULL, '2' },
		{ "chain-index", 1, NULL, 'i' }, { "raw-hex", 1, NULL, 'H' }, { "no-hello", 0, NULL, 'z' },
		{ "hello-version", 1, NULL, 'V' }, { "wait", 1, NULL, 'W' },
#endif
		{ "connect", 1, NULL, 'C' }, { "cafile", 1, NULL, 'A' },
		{ "servername", 1, NULL, 'N' }, { "key", 1, NULL, 'k' }, { "chain", 1, NULL, 'c' },
		{ "message", 1, NULL, 'm' }, { "rcpt", 1, NULL, 'r' }, { "trace", 1, NULL, 'T' },
		{ "require-security", 1, NULL, 'R' },
		{ "count", 1, NULL, 'n' }, { "concurrency", 1, NULL, 'j' }, { "size", 1, NULL, 's' },
		{ "from", 1, NULL, 'F' }, { "max-seconds", 1, NULL, 'M' }, { "load", 0, NULL, 'L' },
		{ "quiet", 0, NULL, 'q' },
		{ "to-domain", 1, NULL, 'D' }, { "unbound-conf", 1, NULL, 'U' },
		{ "trust-anchor", 1, NULL, 'Y' }, { "resolve", 1, NULL, 'Z' }, { "window", 1, NULL, 'w' }, { "help", 0, NULL, 'h' },
		{ "per-conn", 1, NULL, 'P' }, { "from-domains", 1, NULL, 'O' }, { "from-first", 1, NULL, 'o' },
		{ "group", 1, NULL, 'G' }, { "cipher", 1, NULL, 'K' }, { "nodelay", 0, NULL, 'y' },
		{ "pipe", 0, NULL, 1000 }, { "keys", 1, NULL, 1001 }, { "timeout", 1, NULL, 1002 },
		{ "ct-log-list", 1, NULL, 1003 }, { "print-srv", 1, NULL, 1004 },
		{ "version", 0, NULL, 1005 },
		{ NULL, 0, NULL, 0 },
	};
	const char *test_opt = NULL;
	int li;
	struct snd_key *key = NULL;
	uint8_t **der = NULL;
	size_t *derl = NULL, n_der = 0, i;
	WOLFSSL_CTX *ctx = NULL;
	struct sconn *cs = NULL;
	struct pollfd *pfd = NULL;
	char err[256];
	double t0 = 0, t1 = 0;
	int ch, alive, rc;
	unsigned long per, total_emails = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	o.require_security = -1;
	o.count = 1;
	o.concurrency = 1;
	o.window = 32;
	o.wait_seconds = 1.0;
	o.max_seconds = 300;	/* never hang a test run */
	o.from = "sender@a.test";
	o.timeout = 300;
	/* "+": options end at the first recipient; Postfix's argv has "--" too */
	opterr = 0;	/* reported by cli_usage_error */
	while ((ch = getopt_long(argc, argv, "+:h", lo, &li)) != -1) {
		unsigned long long v = 0;
		double dv = 0;

		if (ch != 'h' && ch != '?' && ch != ':' && ch != 'A' && ch != 'U' && ch != 'Y' && ch < 1000 &&
		    test_opt == NULL)
			test_opt = lo[li].name;
/* a number option: digits only, in range, or a usage error */
#define NUM(min, max) do { \
	if (cli_uint(optarg, (min), (max), &v) < 0) \
		return bad_number(lo[li].name, optarg, (min), (max)); \
} while (0)
#define DBL(min, max) do { \
	if (cli_double(optarg, (min), (max), &dv) < 0) \
		return bad_number(lo[li].name, optarg, (min), (max)); \
} while (0)
		switch (ch) {
		case 1000: o.pipe = 1; break;
		case 1001: o.keys = optarg; break;
		case 1002:
			NUM(1, 86400);
			o.timeout = (unsigned)v;
			break;
		case 1005: return cli_version("smtpsec-send");
		case 1003: o.ct_log_list = optarg; o.ct_set = 1; break;
		case 1004: o.print_srv = optarg; break;
		case 'C': o.connect = optarg; break;
		case 'A': o.cafile = optarg; o.cafile_set = 1; break;
#ifdef SMTPSEC_TEST_HOOKS
		case 'I': o.insecure = 1; break;
		case 'H': if (o.n_raw < MAX_ITEMS) o.raw[o.n_raw++] = optarg; break;
		case 'X': o.tamper = 1; break;
		case '2': o.tls12 = 1; break;
		case 'i': NUM(0, 0xffffffffULL); o.chain_index = (uint32_t)v; break;
		case 'z': o.no_hello = 1; break;
		case 'V': NUM(0, 255); o.hello_version = (int)v; break;
		case 'W': DBL(0, 3600); o.wait_seconds = dv; break;
#endif
		case 'N': o.servername = optarg; break;
		case 'k': o.key = optarg; break;
		case 'c': o.chain = optarg; break;
		case 'm': if (o.n_msgs < MAX_ITEMS) o.msgs[o.n_msgs++] = optarg; break;
		case 'r': if (o.n_rcpt < MAX_ITEMS) o.rcpt[o.n_rcpt++] = optarg; break;
		case 'T': if (o.n_trace < MAX_ITEMS) o.trace[o.n_trace++] = optarg; break;
		case 'R': NUM(0, 1); o.require_security = (int)v; break;
		case 'n': NUM(1, 1000000000); o.count = (unsigned long)v; break;
		case 'j': NUM(1, 100000); o.concurrency = (unsigned long)v; break;
		case 's': NUM(0, 1ULL << 32); o.size = (size_t)v; break;
		case 'F': o.from = optarg; break;
		case 'M': DBL(0, 86400); o.max_seconds = dv; break;
		case 'L': o.load = 1; o.quiet = 1; break;
		case 'q': o.quiet = 1; break;
		case 'D': o.to_domain = optarg; break;
		case 'U': o.unbound_conf = optarg; break;
		case 'Y': o.trust_anchor = optarg; o.trust_anchor_set = 1; break;
		case 'Z': if (o.n_resolve < MAX_ITEMS) o.resolve[o.n_resolve++] = optarg; break;
		case 'w': NUM(1, 1000000); o.window = (unsigned long)v; break;
		case 'K': o.cipher = optarg; break;
		case 'y': o.nodelay = 1; break;
		case 'P': NUM(0, 1000000000); o.per_conn = (unsigned long)v; break;
		case 'O': NUM(0, 1000000000); o.from_domains = (unsigned long)v; break;
		case 'o': NUM(0, 1000000000); o.from_first = (unsigned long)v; break;
		case 'G':
			if ((o.group = snd_tls_group(optarg)) < 0)
				return usage_err("--group: '%s' is not p256 or x25519", optarg);
			break;
		case 'h': usage(stdout); return EX_OK;
		default:	/* ':' or '?' */
			return usage_err("%s", cli_bad_option(ch, argv, err, sizeof(err)));
		}
#undef NUM
#undef DBL
	}
	if (test_opt && !test_mode())
		return usage_err("refusing the test-only option --%s outside the test suite (it needs "
		    "SMTPSEC_TEST_MODE=1 in the environment)", test_opt);
	if (o.pipe || o.print_srv)
		return product_mode(argc - optind, (const char *const *)argv + optind, test_opt != NULL);
	if (optind < argc)
		return usage_err("unexpected argument '%s'", argv[optind]);
	if ((o.connect == NULL && o.to_domain == NULL) ||
	    (o.connect && !o.insecure && o.cafile == NULL) || o.concurrency == 0 || o.window == 0 ||
	    (o.to_domain && o.concurrency != 1) || (o.to_domain && o.per_conn) ||
	    (o.from_domains && (o.n_msgs || strchr(o.from, '@') == NULL)))
		return usage_err("missing or conflicting options");
	if (o.key && o.chain) {
		key = snd_key_load(o.key, err, sizeof(err));
		if (key == NULL || snd_chain_load(o.chain, &der, &derl, &n_der, err, sizeof(err)) < 0) {
			fprintf(stderr, "smtpsec-send: %s\n", err);
			{ rc = 2; goto done; }
		}
	}
	/* the Emails */
	if (key && (o.n_msgs || o.size)) {
		if (o.n_rcpt == 0) {
			fprintf(stderr, "smtpsec-send: --rcpt is required\n");
			{ rc = 2; goto done; }
		}
		frames = mem_calloc(o.n_msgs + 1, sizeof(*frames));
		for (i = 0; i < o.n_msgs; i++) {
			size_t len;
			uint8_t *m = snd_read_file(o.msgs[i], &len);

			if (m == NULL || build_frame(key, m, len, &frames[n_frames++]) < 0) {
				fprintf(stderr, "smtpsec-send: cannot build Email from %s\n", o.msgs[i]);
				{ rc = 2; goto done; }
			}
			free(m);
		}
		if (o.from_domains)
			frames = mem_realloc(frames, (o.from_domains + 1) * sizeof(*frames));
		if (o.n_msgs == 0) {
			unsigned long d, nd = o.from_domains ? o.from_domains : 1;

			for (d = 0; d < nd; d++) {
				char hdr[768], from[512];
				size_t hl, len = o.size;
				uint8_t *m;
				const char *at = strchr(o.from, '@');

				if (o.from_domains)	/* alice@example.test -> alice@d7.example.test */
					snprintf(from, sizeof(from), "%.*s@d%lu.%s", (int)(at - o.from), o.from,
					    o.from_first + d, at + 1);
				else
					snprintf(from, sizeof(from), "%s", o.from);
				hl = (size_t)snprintf(hdr, sizeof(hdr),
				    "From: <%s>\r\nTo: <%s>\r\nSubject: smtpsec-send load\r\n"
				    "Message-ID: <load.%u@smtpsec-send>\r\n\r\n", from, o.rcpt[0], sys_random32());
				if (len < hl + 2)
					len = hl + 2;
				m = mem_alloc(len);
				memcpy(m, hdr, hl);
				for (i = hl; i < len; i++)
					m[i] = (i - hl) % 78 == 76 ? '\r' : (i - hl) % 78 == 77 ? '\n' : (uint8_t)('a' + i % 26);
				m[len - 2] = '\r';
				m[len - 1] = '\n';
				if (build_frame(key, m, len, &frames[n_frames++]) < 0)
					{ rc = 2; goto done; }
				free(m);
			}
		}
	}
#ifdef SMTPSEC_TEST_HOOKS
	for (i = 0; i < o.n_raw; i++) {
		size_t l;
		uint8_t *b = snd_hex(o.raw[i], &l);

		if (b == NULL) {
			fprintf(stderr, "smtpsec-send: bad --raw-hex\n");
			{ rc = 2; goto done; }
		}
		raw_bytes = mem_realloc(raw_bytes, raw_len + l + 1);
		memcpy(raw_bytes + raw_len, b, l);
		raw_len += l;
		free(b);
	}
#endif

	wolfSSL_Init();
	ctx = wolfSSL_CTX_new(o.tls12 ? wolfTLSv1_2_client_method() : wolfTLSv1_3_client_method());
	if (ctx == NULL)
		{ rc = 2; goto done; }
	/* no 10 retries of a read that would block (receiver/rcv_tls.c): the
	 * load mode's sockets are non-blocking and poll() says when */
#if defined(OPENSSL_EXTRA) || defined(HAVE_WEBSERVER)
	wolfSSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
#endif
	if (o.cipher && wolfSSL_CTX_set_cipher_list(ctx, o.cipher) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "smtpsec-send: bad --cipher %s\n", o.cipher);
		{ rc = 2; goto done; }
	}
	if (o.insecure || o.to_domain)	/* discovery checks the server itself (10.3) */
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	else if (wolfSSL_CTX_load_verify_locations(ctx, o.cafile, NULL) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "smtpsec-send: cannot load %s\n", o.cafile);
		{ rc = 2; goto done; }
	}
	total_emails = n_frames ? o.count * n_frames : 0;
	per = total_emails / o.concurrency;
	cs = mem_calloc(o.concurrency, sizeof(*cs));
	for (i = 0; i < o.concurrency; i++)
		cs[i].fd = -1;
	pfd = mem_calloc(o.concurrency, sizeof(*pfd));
	lat = mem_calloc(total_emails + 1, sizeof(*lat));
	t0 = snd_now();
	if (o.per_conn)
		emails_left = total_emails;
	for (i = 0; i < o.concurrency; i++) {
		struct sconn *c = &cs[i];

		if (o.per_conn) {
			c->total = emails_left < o.per_conn ? emails_left : o.per_conn;
			emails_left -= c->total;
			if (c->total == 0) {
				c->closed = 1;
				continue;
			}
		} else
			c->total = per + (i < total_emails % o.concurrency ? 1 : 0);
		if (conn_open(c, ctx, der, derl, n_der, err, sizeof(err)) < 0)
			{ rc = 2; goto done; }
	}
	alive = (int)o.concurrency;
	/* Each connection is stepped when poll() reports it (POLLOUT only
	 * while wolfSSL waits to write: a socket is nearly always writable,
	 * and asking for POLLOUT during the handshake made this loop spin),
	 * and every connection on a timeout, for the --wait-seconds checks. */
	while (alive > 0) {
		int k = 0, nready;

		for (i = 0; i < o.concurrency; i++) {
			pfd[i].fd = cs[i].fd >= 0 && !cs[i].closed ? cs[i].fd : -1;
			pfd[i].events = POLLIN | (cs[i].want_write ? POLLOUT : 0);
		}
		nready = poll(pfd, o.concurrency, 100);
		if (nready < 0 && errno != EINTR)
			break;
		for (i = 0; i < o.concurrency; i++) {
			struct sconn *c = &cs[i];

			if (c->fd < 0 || c->closed)
				continue;
			if (nready > 0 && pfd[i].revents == 0) {
				k++;
				continue;
			}
			if (step(c, pfd[i].revents) < 0) {
				wolfSSL_shutdown(c->ssl);
				close(c->fd);
				c->fd = -1;
				c->closed = 1;
				if (o.per_conn && emails_left > 0 && c->answered >= c->total &&
				    !(o.max_seconds > 0 && snd_now() - t0 > o.max_seconds)) {
					if (c->failed)
						n_conns_failed++;
					conn_clear(c);
					c->total = emails_left < o.per_conn ? emails_left : o.per_conn;
					emails_left -= c->total;
					if (conn_open(c, ctx, der, derl, n_der, err, sizeof(err)) < 0) {
						n_conns_failed++;
						c->closed = 1;
						continue;
					}
					k++;
				}
				continue;
			}
			k++;
		}
		alive = k;
		if (o.max_seconds > 0 && snd_now() - t0 > o.max_seconds)
			break;
	}
	t1 = snd_now();
	rc = (n_delivered == total_emails && total_emails > 0) ? 0 : 1;
done:
	for (i = 0; cs && i < o.concurrency; i++) {
		if (cs[i].failed)
			rc = 2;
		if (cs[i].fd >= 0)
			close(cs[i].fd);
		if (cs[i].ssl)
			wolfSSL_free(cs[i].ssl);
		wire_free(&cs[i].w);
		buf_free(&cs[i].out);
		buf_free(&cs[i].in);
		free(cs[i].sent_at);
	}
	free(cs);
	free(pfd);
	if (ctx)
		wolfSSL_CTX_free(ctx);
	for (i = 0; i < n_frames; i++)
		free(frames[i].p);
	free(frames);
	free(raw_bytes);
	for (i = 0; i < n_der; i++)
		free(der[i]);
	free(der);
	free(derl);
	snd_key_free(&key);
	if (o.load && rc != 2) {
		double secs = t1 - t0;

		qsort(lat, n_lat, sizeof(*lat), cmp_d);
#define PCT(p) (n_lat ? lat[(size_t)((double)(n_lat - 1) * (p))] * 1000.0 : 0.0)
		printf("load messages=%lu delivered=%lu failed=%lu unanswered=%lu seconds=%.3f "
		    "msgs_per_s=%.1f mb_per_s=%.2f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
		    total_emails, n_delivered, n_failed, total_emails - n_answered, secs,
		    secs > 0 ? (double)n_answered / secs : 0.0,
		    secs > 0 ? (double)bytes_sent_msgs / secs / 1e6 : 0.0, PCT(0.50), PCT(0.90),
		    PCT(0.99), n_lat ? lat[n_lat - 1] * 1000.0 : 0.0);
		if (o.per_conn)
			printf("load_conns connections=%lu failed=%lu conns_per_s=%.1f\n", n_conns,
			    n_conns_failed, secs > 0 ? (double)n_conns / secs : 0.0);
	}
	free(lat);
	wolfSSL_Cleanup();
	return rc;
}
