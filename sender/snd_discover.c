/*
 * smtpsec-send: finding and authenticating the receiving gateway like a
 * real sender (SMTPSEC.md 10): DNSSEC SRV for the recipient domain, then
 * for each target in RFC 2782 order (weights drawn from getrandom(2) on
 * every run) a TLS connection whose certificate must be valid for the
 * target D or SRVName _smtpsec.<domain>, satisfy secure TLSA records at
 * _P._tcp.D when there are any, and otherwise pass PKIX and CT (the same
 * decision the gateway makes for senders: vfy_check_after_tlsa).
 *
 * Every wait is bounded by the caller's deadline: DNS lookups by the
 * resolver timeout (capped to what is left), connect and the handshake by
 * socket timeouts.  struct snd_disc owns the loop, the resolver, the CA
 * store and the CT logs.
 */
#include "base/mem.h"
#include "base/sys.h"
#include "sender/snd.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "verify/vfy.h"
#include "verify/vfy_ct.h"
#include "verify/vfy_pkix.h"
#include "verify/vfy_x509.h"

#define SND_DNS_TIMEOUT_MS	5000
#define SND_CONNECT_TIMEOUT	10.0	/* seconds per target, TCP and TLS each */

struct snd_disc {
	struct snd_discover_opts o;	/* borrowed strings */
	struct ev_loop *loop;		/* owned */
	struct vfy_dns *dns;		/* owned */
	struct vfy_pkix *pkix;		/* owned; NULL without a CA file */
	struct vfy_ct_logs *ct;		/* owned; NULL: step 9 fails closed */
};

struct lk {
	int done;
	struct vfy_srv *srv;		/* owned */
	size_t n_srv;
	/* the decision for one target */
	const struct vfy_chain *chain;
	const struct snd_disc *d;
	struct vfy_verdict v;
	enum vfy_dns_result result;
	enum vfy_dns_status status;
	char why[256];
};

double
snd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t
os_random32(void)
{
	uint32_t x;
	size_t got = 0;

	while (got < sizeof(x)) {
		ssize_t r = getrandom((uint8_t *)&x + got, sizeof(x) - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "smtpsec-send: getrandom failed: %s\n", strerror(errno));
			abort();
		}
		got += (size_t)r;
	}
	return x;
}

unsigned
snd_random_below(unsigned n)
{
	uint32_t x, lim;

	if (n < 2)
		return 0;
	/* rejection sampling: no modulo bias */
	lim = UINT32_MAX - UINT32_MAX % n;
	do
		x = os_random32();
	while (x >= lim);
	return x % n;
}

static double
left(const struct snd_disc *d)
{
	return d->o.deadline > 0 ? d->o.deadline - snd_now() : 1e9;
}

/* verbose (test) mode: each target's failure as it happens */
static void
note(const struct snd_disc *d, const char *line)
{
	if (d->o.verbose)
		fprintf(stderr, "smtpsec-send: %s\n", line);
}

static void
srv_cb(void *arg, const struct vfy_dns_answer *a)
{
	struct lk *l = arg;

	l->done = 1;
	l->result = a->result;
	l->status = a->status;
	snprintf(l->why, sizeof(l->why), "%s", a->why ? a->why : "");
	if (a->result == VFY_DNS_DATA && a->n_srv) {
		l->srv = mem_calloc(a->n_srv, sizeof(*l->srv));
		memcpy(l->srv, a->srv, a->n_srv * sizeof(*l->srv));
		l->n_srv = a->n_srv;
	}
}

static void
tlsa_cb(void *arg, const struct vfy_dns_answer *a)
{
	struct lk *l = arg;

	l->done = 1;
	l->result = a->result;
	l->status = a->status;
	snprintf(l->why, sizeof(l->why), "%s", a->why ? a->why : "");
	if (a->result == VFY_DNS_TEMPFAIL || a->status == VFY_DNS_BOGUS ||
	    a->status == VFY_DNS_UNCHECKED)
		return;
	/* secure records constrain; anything else: PKIX and CT apply */
	vfy_check_after_tlsa(l->d->pkix, l->d->ct ? vfy_ct_chain_check : NULL, l->d->ct, 1,
	    l->chain, time(NULL),
	    (a->result == VFY_DNS_DATA && a->status == VFY_DNS_SECURE) ? a : NULL, &l->v);
}

/* The resolver's own timer ends every lookup (vfy_dns timeout_ms). */
static void
run_until(struct ev_loop *loop, struct lk *l)
{
	while (!l->done)
		ev_run(loop, EVRUN_ONCE);
}

/* host:port -> address from --resolve NAME:PORT:ADDR entries */
static const char *
resolve_override(const struct snd_discover_opts *o, const char *host, unsigned port, char *buf,
    size_t len)
{
	size_t i;

	for (i = 0; i < o->n_resolve; i++) {
		char name[256];
		unsigned p;
		const char *s = o->resolve[i], *c1 = strchr(s, ':'), *c2;

		if (c1 == NULL || (size_t)(c1 - s) >= sizeof(name))
			continue;
		memcpy(name, s, (size_t)(c1 - s));
		name[c1 - s] = '\0';
		c2 = strchr(c1 + 1, ':');
		if (c2 == NULL || sscanf(c1 + 1, "%u", &p) != 1)
			continue;
		if (strcasecmp(name, host) == 0 && p == port) {
			snprintf(buf, len, "%s", c2 + 1);
			return buf;
		}
	}
	return NULL;
}

static void
set_timeouts(int fd, double secs)
{
	struct timeval tv;

	if (secs < 0.001)
		secs = 0.001;
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));	/* connect(2) too */
}

static int
connect_to(const char *addr, unsigned port, double secs)
{
	struct addrinfo hints, *res, *ai;
	char ps[16];
	int fd = -1;

	snprintf(ps, sizeof(ps), "%u", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(addr, ps, &hints, &res) != 0)
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		set_timeouts(fd, secs);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* TLS handshake on a nonblocking socket, polled until `until` (a blocking
 * socket with SO_RCVTIMEO is not enough: wolfSSL retries a timed-out read
 * during the handshake).  0, -1 failed, -2 timed out. */
/*
 * The target's chain as the handshake brought it (leaf first), copied by
 * a verify callback: the project's wolfSSL keeps no peer chain after the
 * handshake (built without SESSION_CERTS; README, Building), so it is
 * taken while wolfSSL holds it.  The decision is ours (10.3), after the
 * handshake: the callback accepts.
 */
#define SND_CHAIN_MAX	16
struct peer_chain {
	size_t n;
	uint8_t *der[SND_CHAIN_MAX];
	size_t len[SND_CHAIN_MAX];
};

static void
peer_chain_clear(struct peer_chain *pc)
{
	while (pc->n > 0) {
		pc->n--;
		free(pc->der[pc->n]);
	}
}

static int
capture_chain(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	struct peer_chain *pc = store->userCtx;
	int i;

	(void)preverify;
	/* called once per certificate, each time with the whole chain */
	if (pc == NULL || pc->n > 0 || store->certs == NULL)
		return 1;
	for (i = 0; i < store->totalCerts && pc->n < SND_CHAIN_MAX; i++) {
		const WOLFSSL_BUFFER_INFO *b = &store->certs[i];

		if (b->buffer == NULL || b->length == 0)
			break;
		pc->der[pc->n] = mem_dup(b->buffer, b->length);
		pc->len[pc->n] = b->length;
		pc->n++;
	}
	return 1;
}

static int
handshake(WOLFSSL *ssl, int fd, double until)
{
	sys_set_nonblock(fd);
	for (;;) {
		struct pollfd p;
		double rem;
		int r = wolfSSL_connect(ssl), e;

		if (r == WOLFSSL_SUCCESS)
			return 0;
		e = wolfSSL_get_error(ssl, r);
		if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE)
			return -1;
		rem = until - snd_now();
		if (rem <= 0)
			return -2;
		p.fd = fd;
		p.events = e == WOLFSSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
		p.revents = 0;
		if (poll(&p, 1, (int)(rem * 1000) + 1) < 0 && errno != EINTR)
			return -1;
	}
}

int
snd_disc_new(struct snd_disc **d_r, const struct snd_discover_opts *o, char *err, size_t errlen)
{
	struct snd_disc *d = mem_calloc(1, sizeof(*d));
	struct vfy_dns_options dopt;
	double rem;

	d->o = *o;
	d->loop = ev_loop_new(EVFLAG_AUTO);
	memset(&dopt, 0, sizeof(dopt));
	dopt.unbound_conf = o->unbound_conf;
	dopt.trust_anchor_file = o->trust_anchor_file;
	dopt.timeout_ms = SND_DNS_TIMEOUT_MS;
	rem = left(d);
	if (rem < SND_DNS_TIMEOUT_MS / 1000.0)
		dopt.timeout_ms = rem > 0.1 ? (unsigned)(rem * 1000) : 100;
	if (vfy_dns_init(&d->dns, d->loop, &dopt, err, errlen) != 0 ||
	    (o->ca_file && vfy_pkix_load(o->ca_file, &d->pkix, err, errlen) != 0) ||
	    (o->ct_log_list && vfy_ct_logs_load(o->ct_log_list, &d->ct, err, errlen) != 0)) {
		snd_disc_free(&d);
		return -1;
	}
	*d_r = d;
	return 0;
}

void
snd_disc_free(struct snd_disc **d_p)
{
	struct snd_disc *d = *d_p;

	if (d == NULL)
		return;
	*d_p = NULL;
	if (d->dns)
		vfy_dns_deinit(&d->dns);
	if (d->pkix)
		vfy_pkix_free(&d->pkix);
	if (d->ct)
		vfy_ct_logs_free(&d->ct);
	ev_loop_destroy(d->loop);
	free(d);
}

int
snd_disc_srv(struct snd_disc *d, const char *domain, struct vfy_srv **srv_r, size_t *n_r,
    char *err, size_t errlen)
{
	struct lk l;
	char qname[300];

	*srv_r = NULL;
	*n_r = 0;
	memset(&l, 0, sizeof(l));
	snprintf(qname, sizeof(qname), "_smtpsec._tcp.%s", domain);
	if (vfy_dns_lookup(d->dns, qname, VFY_DNS_T_SRV, srv_cb, &l) == NULL) {
		snprintf(err, errlen, "bad domain %s", domain);
		return -2;	/* no name can ever be looked up: permanent */
	}
	run_until(d->loop, &l);
	/* 10.1: any DNS error or a bogus answer aborts (temporary) */
	if (l.result == VFY_DNS_TEMPFAIL || l.status == VFY_DNS_BOGUS ||
	    l.status == VFY_DNS_UNCHECKED) {
		snprintf(err, errlen, "SRV lookup for %s failed: %s", qname,
		    l.why[0] ? l.why : vfy_dns_status_str(l.status));
		free(l.srv);
		return -1;
	}
	/* a provably unsigned zone or no record: not SMTPsec */
	if (l.status != VFY_DNS_SECURE || l.result != VFY_DNS_DATA || l.n_srv == 0 ||
	    (l.n_srv == 1 && strcmp(l.srv[0].target, ".") == 0)) {
		snprintf(err, errlen, "%s does not speak SMTPsec (no DNSSEC-signed SRV record: %s, %s)",
		    domain, vfy_dns_result_str(l.result), vfy_dns_status_str(l.status));
		free(l.srv);
		return -2;
	}
	/* 10.2: RFC 2782 order, drawn afresh for this run */
	vfy_dns_srv_order(l.srv, l.n_srv, snd_random_below);
	*srv_r = l.srv;
	*n_r = l.n_srv;
	return 0;
}

int
snd_disc_connect(struct snd_disc *d, const char *domain, void *ctx_v, int *fd_r, void **ssl_r,
    char *target_r, size_t target_len, char *err, size_t errlen)
{
	WOLFSSL_CTX *ctx = ctx_v;
	struct vfy_srv *srv = NULL;
	size_t n_srv = 0, i;
	char last[300] = "";
	int rc;

	if ((rc = snd_disc_srv(d, domain, &srv, &n_srv, err, errlen)) != 0)
		return rc;
	rc = -1;
	/* 10.2: each target in turn */
	for (i = 0; i < n_srv; i++) {
		const struct vfy_srv *s = &srv[i];
		char abuf[256], qname[300];
		const char *addr = resolve_override(&d->o, s->target, s->port, abuf, sizeof(abuf));
		WOLFSSL *ssl = NULL;
		struct peer_chain pc;
		struct vfy_chain *chain = NULL;
		const char *why = NULL;
		struct lk t;
		double rem = left(d);
		int fd, k;

		pc.n = 0;
		if (strcmp(s->target, ".") == 0)
			continue;
		if (rem <= 0) {
			snprintf(last, sizeof(last), "out of time before %s:%u", s->target, s->port);
			break;
		}
		fd = connect_to(addr ? addr : s->target, s->port,
		    rem < SND_CONNECT_TIMEOUT ? rem : SND_CONNECT_TIMEOUT);
		if (fd < 0) {
			snprintf(last, sizeof(last), "%s:%u: cannot connect", s->target, s->port);
			note(d, last);
			continue;
		}
		rem = left(d);
		ssl = wolfSSL_new(ctx);
		wolfSSL_set_fd(ssl, fd);
		wolfSSL_set_verify(ssl, WOLFSSL_VERIFY_NONE, capture_chain);
		wolfSSL_SetCertCbCtx(ssl, &pc);
		wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, s->target, (unsigned short)strlen(s->target));
		if ((k = handshake(ssl, fd, snd_now() + (rem < SND_CONNECT_TIMEOUT ? rem :
		    SND_CONNECT_TIMEOUT))) != 0) {
			snprintf(last, sizeof(last), "%s:%u: TLS handshake %s", s->target, s->port,
			    k == -2 ? "timed out" : "failed");
			note(d, last);
			goto next;
		}
		if (pc.n == 0 || vfy_chain_parse((const uint8_t *const *)pc.der, pc.len, pc.n, &chain,
		    &why) != 0) {
			snprintf(last, sizeof(last), "%s:%u: bad certificate chain: %s", s->target,
			    s->port, why ? why : "none");
			note(d, last);
			goto next;
		}
		/* 10.3: the name first */
		if (!vfy_chain_has_dns(chain, s->target) && !vfy_chain_has_srvname(chain, domain)) {
			snprintf(last, sizeof(last), "%s:%u: certificate not valid for %s or _smtpsec.%s",
			    s->target, s->port, s->target, domain);
			note(d, last);
			goto next;
		}
		memset(&t, 0, sizeof(t));
		t.chain = chain;
		t.d = d;
		snprintf(qname, sizeof(qname), "_%u._tcp.%s", s->port, s->target);
		if (vfy_dns_lookup(d->dns, qname, VFY_DNS_T_TLSA, tlsa_cb, &t) == NULL) {
			snprintf(last, sizeof(last), "%s:%u: bad TLSA name", s->target, s->port);
			goto next;
		}
		run_until(d->loop, &t);
		if (t.result == VFY_DNS_TEMPFAIL || t.status == VFY_DNS_BOGUS ||
		    t.status == VFY_DNS_UNCHECKED) {
			/* any other DNS error aborts (10.1) */
			snprintf(err, errlen, "TLSA lookup for %s failed: %s", qname,
			    t.why[0] ? t.why : vfy_dns_status_str(t.status));
			vfy_chain_free(&chain);
			peer_chain_clear(&pc);
			wolfSSL_free(ssl);
			close(fd);
			free(srv);
			return -1;
		}
		if (t.v.result != VFY_PASS) {
			snprintf(last, sizeof(last), "%s:%u: server certificate rejected at %s: %s",
			    s->target, s->port, vfy_step_str(t.v.step), t.v.why);
			note(d, last);
			goto next;
		}
		if (d->o.verbose)
			printf("server target=%s port=%u trust=%s\n", s->target, s->port, t.v.trust);
		snprintf(target_r, target_len, "%s:%u", s->target, s->port);
		vfy_chain_free(&chain);
		peer_chain_clear(&pc);
		wolfSSL_SetCertCbCtx(ssl, NULL);
		*fd_r = fd;
		*ssl_r = ssl;
		free(srv);
		return 0;
next:
		vfy_chain_free(&chain);
		peer_chain_clear(&pc);
		wolfSSL_free(ssl);
		close(fd);
	}
	snprintf(err, errlen, "no SRV target of %s could be used%s%s%s", domain,
	    last[0] ? " (last: " : "", last, last[0] ? ")" : "");
	free(srv);
	return rc;
}
