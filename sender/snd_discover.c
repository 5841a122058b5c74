/*
 * smtpsec-send: finding and authenticating the receiving gateway like a
 * real sender (SMTPSEC.md 10): DNSSEC SRV for the recipient domain, then
 * for each target in RFC 2782 order a TLS connection whose certificate must
 * be valid for the target D or SRVName _smtpsec.<domain>, satisfy secure
 * TLSA records at _P._tcp.D when there are any, and otherwise pass PKIX and
 * CT (the same decision the gateway makes for senders: vfy_check_after_tlsa).
 */
#include "sender/snd.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "receiver/rcv_util.h"
#include "verify/vfy_check.h"
#include "verify/vfy_dns.h"
#include "verify/vfy_pkix.h"
#include "verify/vfy_x509.h"

struct lk {
	int done;
	/* SRV */
	struct vfy_srv *srv;
	size_t n_srv;
	/* the decision for one target */
	const struct vfy_chain *chain;
	const struct vfy_pkix *pkix;
	struct vfy_verdict v;
	enum vfy_dns_result result;
	enum vfy_dns_status status;
	char why[256];
};

static void
srv_cb(void *arg, const struct vfy_dns_answer *a)
{
	struct lk *l = arg;

	l->done = 1;
	l->result = a->result;
	l->status = a->status;
	snprintf(l->why, sizeof(l->why), "%s", a->why ? a->why : "");
	if (a->result == VFY_DNS_DATA && a->n_srv) {
		l->srv = rcv_xcalloc(a->n_srv, sizeof(*l->srv));
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
	vfy_check_after_tlsa(l->pkix, NULL, NULL, 1, l->chain, time(NULL),
	    (a->result == VFY_DNS_DATA && a->status == VFY_DNS_SECURE) ? a : NULL, &l->v);
}

static int
run_until(struct ev_loop *loop, struct lk *l)
{
	while (!l->done)
		ev_run(loop, EVRUN_ONCE);
	return 0;
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

static int
connect_to(const char *addr, unsigned port)
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
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int
snd_discover(const struct snd_discover_opts *o, void *ctx_v, int *fd_r, void **ssl_r,
    char *err, size_t errlen)
{
	WOLFSSL_CTX *ctx = ctx_v;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vfy_dns *dns = NULL;
	struct vfy_dns_options dopt;
	struct vfy_pkix *pkix = NULL;
	struct lk l;
	char qname[300];
	size_t i;
	int rc = -1;

	memset(&dopt, 0, sizeof(dopt));
	dopt.unbound_conf = o->unbound_conf;
	dopt.trust_anchor_file = o->trust_anchor_file;
	dopt.timeout_ms = 5000;
	if (vfy_dns_init(&dns, loop, &dopt, err, errlen) != 0)
		goto out;
	if (o->ca_file && vfy_pkix_load(o->ca_file, &pkix, err, errlen) != 0)
		goto out;
	/* 10.1: SRV with DNSSEC */
	memset(&l, 0, sizeof(l));
	snprintf(qname, sizeof(qname), "_smtpsec._tcp.%s", o->domain);
	if (vfy_dns_lookup(dns, qname, VFY_DNS_T_SRV, srv_cb, &l) == NULL) {
		snprintf(err, errlen, "bad domain %s", o->domain);
		goto out;
	}
	run_until(loop, &l);
	if (l.result == VFY_DNS_TEMPFAIL || l.status == VFY_DNS_BOGUS) {
		snprintf(err, errlen, "SRV lookup for %s failed: %s", qname, l.why);
		goto out;
	}
	if (l.status != VFY_DNS_SECURE || l.result != VFY_DNS_DATA || l.n_srv == 0 ||
	    (l.n_srv == 1 && strcmp(l.srv[0].target, ".") == 0)) {
		snprintf(err, errlen, "%s does not speak SMTPsec (no DNSSEC-signed SRV record: %s, %s)",
		    o->domain, vfy_dns_result_str(l.result), vfy_dns_status_str(l.status));
		rc = -2;
		goto out;
	}
	/* 10.2: each target in RFC 2782 order (vfy_dns returns them ordered) */
	for (i = 0; i < l.n_srv; i++) {
		const struct vfy_srv *s = &l.srv[i];
		char abuf[256];
		const char *addr = resolve_override(o, s->target, s->port, abuf, sizeof(abuf));
		WOLFSSL *ssl;
		WOLFSSL_X509_CHAIN *pc;
		struct vfy_chain *chain = NULL;
		const uint8_t *der[16];
		size_t dl[16], n = 0;
		const char *why = NULL;
		struct lk t;
		int fd, k;

		if (strcmp(s->target, ".") == 0)
			continue;
		fd = connect_to(addr ? addr : s->target, s->port);
		if (fd < 0) {
			fprintf(stderr, "smtpsec-send: %s:%u: cannot connect\n", s->target, s->port);
			continue;
		}
		ssl = wolfSSL_new(ctx);
		wolfSSL_set_fd(ssl, fd);
		wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, s->target, (unsigned short)strlen(s->target));
		if (wolfSSL_connect(ssl) != WOLFSSL_SUCCESS) {
			fprintf(stderr, "smtpsec-send: %s:%u: TLS handshake failed\n", s->target, s->port);
			goto next;
		}
		pc = wolfSSL_get_peer_chain(ssl);
		k = pc ? wolfSSL_get_chain_count(pc) : 0;
		for (n = 0; (int)n < k && n < 16; n++) {
			der[n] = wolfSSL_get_chain_cert(pc, (int)n);
			dl[n] = (size_t)wolfSSL_get_chain_length(pc, (int)n);
		}
		if (n == 0 || vfy_chain_parse(der, dl, n, &chain, &why) != 0) {
			fprintf(stderr, "smtpsec-send: %s:%u: bad certificate chain: %s\n", s->target,
			    s->port, why ? why : "none");
			goto next;
		}
		/* 10.3: the name first */
		if (!vfy_chain_has_dns(chain, s->target) && !vfy_chain_has_srvname(chain, o->domain)) {
			fprintf(stderr, "smtpsec-send: %s:%u: certificate not valid for %s or _smtpsec.%s\n",
			    s->target, s->port, s->target, o->domain);
			goto next;
		}
		memset(&t, 0, sizeof(t));
		t.chain = chain;
		t.pkix = pkix;
		snprintf(qname, sizeof(qname), "_%u._tcp.%s", s->port, s->target);
		if (vfy_dns_lookup(dns, qname, VFY_DNS_T_TLSA, tlsa_cb, &t) == NULL)
			goto next;
		run_until(loop, &t);
		if (t.result == VFY_DNS_TEMPFAIL || t.status == VFY_DNS_BOGUS) {
			snprintf(err, errlen, "TLSA lookup for %s failed: %s", qname, t.why);
			vfy_chain_free(&chain);
			wolfSSL_free(ssl);
			close(fd);
			goto out;	/* any other DNS error aborts (10.1) */
		}
		if (t.v.result != VFY_PASS) {
			fprintf(stderr, "smtpsec-send: %s:%u: server certificate rejected at %s: %s\n",
			    s->target, s->port, vfy_step_str(t.v.step), t.v.why);
			goto next;
		}
		printf("server target=%s port=%u trust=%s\n", s->target, s->port, t.v.trust);
		vfy_chain_free(&chain);
		*fd_r = fd;
		*ssl_r = ssl;
		rc = 0;
		goto out;
next:
		vfy_chain_free(&chain);
		wolfSSL_free(ssl);
		close(fd);
	}
	snprintf(err, errlen, "no SRV target of %s could be used", o->domain);
out:
	free(l.srv);
	if (pkix)
		vfy_pkix_free(&pkix);
	if (dns)
		vfy_dns_deinit(&dns);
	ev_loop_destroy(loop);
	return rc;
}
