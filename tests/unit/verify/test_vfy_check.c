/* Unit tests for verify/vfy_check.c: steps 5-9 of SMTPSEC.md 4 over fake
 * DNS answers injected through the lookup seam (the real resolver path is
 * covered by tests/integration/t_verify_*.sh), the verdict cache and
 * cancellation.  Certificates and TLSA digests: data/gen.sh. */
#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/t.h"
#include "tests/lib/tutil.h"
#include "verify/vfy.h"

static char *
data_path(const char *name)
{
	static char buf[1024];
	const char *f = __FILE__, *s = strrchr(f, '/');

	snprintf(buf, sizeof(buf), "%.*s/data/%s", s ? (int)(s - f) : 1, s ? f : ".", name);
	return buf;
}

static char *tlsa_txt;

static uint8_t *
tlsa_val(const char *key, size_t *len_r)
{
	char k[64], hex[4096], *p, *e;

	snprintf(k, sizeof(k), "%s ", key);
	p = strstr(tlsa_txt, k);
	if (p == NULL)
		return NULL;
	p += strlen(k);
	e = strchr(p, '\n');
	snprintf(hex, sizeof(hex), "%.*s", (int)(e - p), p);
	return tutil_hex(hex, len_r);
}

/* ---- fake DNS ---------------------------------------------------------- */

#define S VFY_DNS_SECURE
#define I VFY_DNS_INSECURE
#define B VFY_DNS_BOGUS
#define DATA VFY_DNS_DATA
#define NX VFY_DNS_NXDOMAIN
#define NOD VFY_DNS_NODATA
#define TF VFY_DNS_TEMPFAIL

struct fake_rr {
	const char *name;
	uint16_t qtype;
	enum vfy_dns_result result;
	enum vfy_dns_status status;
	const char *rdata;	/* SRV: "prio port target;..."; TLSA: "u s m key;..." (key "junk" = wrong) */
};

struct fake_q {
	ev_timer w;
	const struct fake_rr *rr;	/* NULL: NXDOMAIN insecure (unknown name) */
	char name[300];
	uint16_t qtype;
	vfy_dns_cb *cb;
	void *arg;
};

static const struct fake_rr *fake_set;
static size_t fake_n;
static unsigned fake_live, fake_calls;
static struct ev_loop *loop;

static void
fake_fire(struct ev_loop *l, ev_timer *w, int rev)
{
	struct fake_q *q = w->data;
	struct vfy_dns_answer a;
	struct vfy_srv srv[8];
	struct vfy_tlsa tlsa[8];
	uint8_t *bufs[8];
	size_t nb = 0;
	char tmp[1024], *save = NULL;

	(void)rev;
	ev_timer_stop(l, w);
	memset(&a, 0, sizeof(a));
	a.qname = q->name;
	a.qtype = q->qtype;
	a.result = q->rr ? q->rr->result : VFY_DNS_NXDOMAIN;
	a.status = q->rr ? q->rr->status : VFY_DNS_INSECURE;
	a.ttl = a.result == TF ? 0 : 300;
	a.why = a.result == TF ? "timeout" : "";
	a.srv = srv;
	a.tlsa = tlsa;
	if (q->rr && q->rr->rdata) {
		snprintf(tmp, sizeof(tmp), "%s", q->rr->rdata);
		for (char *r = strtok_r(tmp, ";", &save); r; r = strtok_r(NULL, ";", &save)) {
			if (q->qtype == VFY_DNS_T_SRV) {
				struct vfy_srv *s = &srv[a.n_srv++];
				unsigned p, port;

				memset(s, 0, sizeof(*s));
				sscanf(r, "%u %u %255s", &p, &port, s->target);
				s->priority = (uint16_t)p;
				s->port = (uint16_t)port;
			} else {
				struct vfy_tlsa *t = &tlsa[a.n_tlsa++];
				unsigned u, sel, m;
				char key[64];

				sscanf(r, "%u %u %u %63s", &u, &sel, &m, key);
				t->usage = (uint8_t)u;
				t->selector = (uint8_t)sel;
				t->mtype = (uint8_t)m;
				bufs[nb] = tlsa_val(key, &t->len);
				if (bufs[nb] == NULL)	/* "junk": a wrong SHA-256 */
					bufs[nb] = tutil_hex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", &t->len);
				t->data = bufs[nb++];
			}
		}
	}
	fake_live--;
	q->cb(q->arg, &a);
	while (nb > 0)
		free(bufs[--nb]);
	free(q);
}

static struct vfy_dns_query *
fake_lookup(void *arg, const char *name, uint16_t qtype, vfy_dns_cb *cb, void *cbarg)
{
	struct fake_q *q = calloc(1, sizeof(*q));

	(void)arg;
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->qtype = qtype;
	q->cb = cb;
	q->arg = cbarg;
	for (size_t i = 0; i < fake_n; i++)
		if (fake_set[i].qtype == qtype && strcmp(fake_set[i].name, name) == 0)
			q->rr = &fake_set[i];
	ev_timer_init(&q->w, fake_fire, 0., 0.);
	q->w.data = q;
	ev_timer_start(loop, &q->w);
	fake_live++;
	fake_calls++;
	return (struct vfy_dns_query *)q;
}

static void
fake_cancel(void *arg, struct vfy_dns_query **q_p)
{
	struct fake_q *q = (struct fake_q *)*q_p;

	(void)arg;
	ev_timer_stop(loop, &q->w);
	free(q);
	fake_live--;
	*q_p = NULL;
}

static int ct_result, ct_calls;

static int
fake_ct(void *arg, const struct vfy_chain *chain, const struct vfy_cert *issuer, time_t now,
    unsigned min, char *why, size_t whylen)
{
	(void)arg;
	(void)chain;
	if (issuer == NULL)
		return -1;
	(void)now;
	ct_calls++;
	if (min != 1)
		return -1;
	if (ct_result != 0)
		snprintf(why, whylen, "fake CT: no valid SCT");
	return ct_result;
}

/* ---- rows ---------------------------------------------------------------- */

#define SRV(n) "_smtpsec._tcp." n
#define TLSA25(n) "_25._tcp." n
#define MX "mx1.example.test"

static struct vfy_chain *chain;

struct row {
	const char *label, *f;
	struct fake_rr rr[4];
	int ca;			/* load the test root as ca_file */
	int ct;			/* 1 pass, -1 fail, 0 no CT module */
	enum vfy_result want;
	enum vfy_step step;
	const char *trust, *target;
	unsigned lookups;
	int ct_called;
};

static const struct row rows[] = {
	{ "dane_ee", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, DATA, S, "3 1 1 leaf_spki_sha256" } }, 1, 1,
	  VFY_PASS, VFY_STEP_DANE, "dane-ee", MX, 2, 0 },
	{ "dane_ee_no_ca_no_ct", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, DATA, S, "3 0 2 leaf_cert_sha512" } }, 0, 0,
	  VFY_PASS, VFY_STEP_DANE, "dane-ee", MX, 2, 0 },
	{ "dane_mismatch", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, DATA, S, "3 1 1 junk" } }, 1, 1,
	  VFY_PERMFAIL, VFY_STEP_DANE, "", MX, 2, 0 },
	{ "dane_ta_needs_ct", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, DATA, S, "2 1 1 inter_spki_sha256" } }, 0, 1,
	  VFY_PASS, VFY_STEP_CT, "dane-ta", MX, 2, 1 },
	{ "dane_ta_ct_fails", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, DATA, S, "2 0 1 inter_cert_sha256" } }, 0, -1,
	  VFY_PERMFAIL, VFY_STEP_CT, "", MX, 2, 1 },
	{ "pkix_ee_ct_exempt", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, DATA, S, "1 1 1 leaf_spki_sha256" } }, 1, -1,
	  VFY_PASS, VFY_STEP_PKIX, "pkix-ee", MX, 2, 0 },
	/* no ca_file / no CT module: our configuration, never the sender's
	 * fault: temporary (service_unavailable), never authentication_failed */
	{ "pkix_ee_untrusted", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, DATA, S, "1 1 1 leaf_spki_sha256" } }, 0, 1,
	  VFY_TEMPFAIL, VFY_STEP_PKIX, "", MX, 2, 0 },
	{ "no_tlsa_pkix_ct", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, NX, S, NULL } }, 1, 1,
	  VFY_PASS, VFY_STEP_CT, "pkix+ct", MX, 2, 1 },
	{ "no_tlsa_nodata", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, NOD, S, NULL } }, 1, 1,
	  VFY_PASS, VFY_STEP_CT, "pkix+ct", MX, 2, 1 },
	{ "no_tlsa_ct_fails", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, NX, S, NULL } }, 1, -1,
	  VFY_PERMFAIL, VFY_STEP_CT, "", MX, 2, 1 },
	{ "no_tlsa_no_ct_module", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, NX, S, NULL } }, 1, 0,
	  VFY_TEMPFAIL, VFY_STEP_CT, "", MX, 2, 0 },
	{ "no_tlsa_untrusted", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, NX, S, NULL } }, 0, 1,
	  VFY_TEMPFAIL, VFY_STEP_PKIX, "", MX, 2, 0 },
	{ "tlsa_insecure_ignored", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, DATA, I, "3 1 1 junk" } }, 1, 1,
	  VFY_PASS, VFY_STEP_CT, "pkix+ct", MX, 2, 1 },
	{ "tlsa_only_unusable", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, DATA, S, "4 1 1 leaf_spki_sha256;3 2 1 leaf_spki_sha256;3 1 2 leaf_spki_sha256" } }, 1, 1,
	  VFY_PASS, VFY_STEP_CT, "pkix+ct", MX, 2, 1 },
	{ "tlsa_unusable_and_match", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, DATA, S, "4 1 1 leaf_spki_sha256;3 1 1 leaf_spki_sha256" } }, 1, 1,
	  VFY_PASS, VFY_STEP_DANE, "dane-ee", MX, 2, 0 },
	{ "tlsa_bogus", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, DATA, B, "3 1 1 leaf_spki_sha256" } }, 1, 1,
	  VFY_TEMPFAIL, VFY_STEP_DANE, "", MX, 2, 0 },
	{ "tlsa_timeout", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 " MX },
	  { TLSA25(MX), 52, TF, VFY_DNS_UNCHECKED, NULL } }, 1, 1,
	  VFY_TEMPFAIL, VFY_STEP_DANE, "", MX, 2, 0 },
	{ "srv_insecure", "example.test", { { SRV("example.test"), 33, DATA, I, "10 25 " MX },
	  { TLSA25(MX), 52, DATA, S, "3 1 1 leaf_spki_sha256" } }, 1, 1,
	  VFY_PERMFAIL, VFY_STEP_SRV_INSECURE, "", NULL, 1, 0 },
	{ "srv_insecure_nxdomain", "example.test", { { SRV("example.test"), 33, NX, I, NULL } }, 1, 1,
	  VFY_PERMFAIL, VFY_STEP_SRV_INSECURE, "", NULL, 1, 0 },
	{ "srv_nxdomain", "example.test", { { SRV("example.test"), 33, NX, S, NULL } }, 1, 1,
	  VFY_PERMFAIL, VFY_STEP_SRV, "", NULL, 1, 0 },
	{ "srv_nodata", "example.test", { { SRV("example.test"), 33, NOD, S, NULL } }, 1, 1,
	  VFY_PERMFAIL, VFY_STEP_SRV, "", NULL, 1, 0 },
	{ "srv_dot", "example.test", { { SRV("example.test"), 33, DATA, S, "0 0 ." } }, 1, 1,
	  VFY_PERMFAIL, VFY_STEP_SRV, "", NULL, 1, 0 },
	{ "srv_bogus", "example.test", { { SRV("example.test"), 33, DATA, B, "10 25 " MX } }, 1, 1,
	  VFY_TEMPFAIL, VFY_STEP_SRV, "", NULL, 1, 0 },
	{ "srv_servfail", "example.test", { { SRV("example.test"), 33, TF, VFY_DNS_UNCHECKED, NULL } }, 1, 1,
	  VFY_TEMPFAIL, VFY_STEP_SRV, "", NULL, 1, 0 },
	{ "wrong_name", "other.test", { { SRV("other.test"), 33, DATA, S, "10 25 mx.other.test" },
	  { "_25._tcp.mx.other.test", 52, DATA, S, "3 1 1 leaf_spki_sha256" } }, 1, 1,
	  VFY_PERMFAIL, VFY_STEP_NAME, "", NULL, 1, 0 },
	{ "cn_not_used", "other.test", { { SRV("other.test"), 33, DATA, S, "10 25 ignored.example.test" },
	  { "_25._tcp.ignored.example.test", 52, DATA, S, "3 1 1 leaf_spki_sha256" } }, 1, 1,
	  VFY_PERMFAIL, VFY_STEP_NAME, "", NULL, 1, 0 },
	{ "wildcard_target", "other.test", { { SRV("other.test"), 33, DATA, S, "10 2525 a.w.example.test" },
	  { "_2525._tcp.a.w.example.test", 52, DATA, S, "3 1 1 leaf_spki_sha256" } }, 1, 1,
	  VFY_PASS, VFY_STEP_DANE, "dane-ee", "a.w.example.test", 2, 0 },
	{ "second_target_named", "other.test", { { SRV("other.test"), 33, DATA, S, "10 25 mx.other.test;20 25 " MX },
	  { TLSA25(MX), 52, DATA, S, "3 1 1 leaf_spki_sha256" } }, 1, 1,
	  VFY_PASS, VFY_STEP_DANE, "dane-ee", MX, 2, 0 },
	{ "srvname_second_target", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 a.example.test;20 26 b.example.test" },
	  { "_25._tcp.a.example.test", 52, DATA, S, "3 1 1 junk" },
	  { "_26._tcp.b.example.test", 52, DATA, S, "3 1 1 leaf_spki_sha256" } }, 1, 1,
	  VFY_PASS, VFY_STEP_DANE, "dane-ee", "b.example.test", 3, 0 },
	{ "srvname_no_target_matches", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 a.example.test;20 26 b.example.test" },
	  { "_25._tcp.a.example.test", 52, DATA, S, "3 1 1 junk" },
	  { "_26._tcp.b.example.test", 52, DATA, S, "3 1 1 junk" } }, 1, 1,
	  VFY_PERMFAIL, VFY_STEP_DANE, "", "b.example.test", 3, 0 },
	{ "srvname_first_tempfail", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 a.example.test;20 26 b.example.test" },
	  { "_25._tcp.a.example.test", 52, DATA, B, "3 1 1 junk" },
	  { "_26._tcp.b.example.test", 52, DATA, S, "3 1 1 leaf_spki_sha256" } }, 1, 1,
	  VFY_TEMPFAIL, VFY_STEP_DANE, "", "a.example.test", 2, 0 },
	{ "srvname_no_tlsa", "example.test", { { SRV("example.test"), 33, DATA, S, "10 25 a.example.test" } }, 1, 1,
	  VFY_PASS, VFY_STEP_CT, "pkix+ct", "a.example.test", 2, 1 },
};

struct result {
	int called;
	struct vfy_verdict v;
};

static void
done(void *arg, const struct vfy_verdict *v)
{
	struct result *r = arg;

	r->called++;
	r->v = *v;
}

static struct vfy *
mk(int ca, int ct)
{
	struct vfy_options o;
	struct vfy *v = NULL;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.ca_file = ca ? data_path("root.pem") : NULL;
	o.ct_check = ct ? fake_ct : NULL;
	ct_result = ct > 0 ? 0 : -1;
	o.lookup = fake_lookup;
	o.lookup_cancel = fake_cancel;
	if (vfy_init(&v, loop, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "vfy_init: %s\n", err);
		return NULL;
	}
	return v;
}

static void
run_row(size_t i)
{
	const struct row *w = &rows[i];
	struct vfy *v = mk(w->ca, w->ct);
	struct result r = { 0 };
	struct vfy_check *c;

	T_ASSERT(v != NULL);
	fake_set = w->rr;
	fake_n = 4;
	while (fake_n > 0 && w->rr[fake_n - 1].name == NULL)
		fake_n--;
	ct_calls = 0;
	c = vfy_check_start(v, chain, w->f, time(NULL), done, &r);
	T_ASSERT(c != NULL);
	T_EQ_INT(r.called, 0);		/* never before start returns */
	ev_run(loop, 0);
	vfy_deinit(&v);
	T_EQ_INT(r.called, 1);
	T_EQ_INT(fake_live, 0);
	if (r.v.result != w->want || r.v.step != w->step)
		T_FAIL("got %s at %s (%s), want %s at %s", vfy_result_str(r.v.result),
		    vfy_step_str(r.v.step), r.v.why, vfy_result_str(w->want), vfy_step_str(w->step));
	T_EQ_STR(r.v.trust, w->trust);
	if (w->target)
		T_EQ_STR(r.v.target, w->target);
	T_EQ_INT(r.v.dns_lookups, w->lookups);
	T_EQ_INT(ct_calls > 0, w->ct_called);
	T_ASSERT(r.v.why[0] != '\0');
}

/* A pass and a permfail are reused for the same chain and F; a tempfail
 * never is; another F is another entry. */
static void
t_cache(void)
{
	struct vfy *v = mk(1, 1);
	struct result r = { 0 };
	struct vfy_stats st;

	T_ASSERT(v != NULL);
	for (int k = 0; k < 2; k++) {
		fake_set = rows[0].rr;
		fake_n = 2;
		T_ASSERT(vfy_check_start(v, chain, "example.test", time(NULL), done, &r) != NULL);
		ev_run(loop, 0);
		T_EQ_INT(r.v.result, VFY_PASS);
		T_EQ_INT(r.v.cached, k);
		T_EQ_INT(r.v.dns_lookups, k ? 0 : 2);
		T_ASSERT(r.v.ttl > 0 && r.v.ttl <= 300);
	}
	/* tempfail: SRV bogus for another domain, twice, never cached */
	static const struct fake_rr bogus[] = { { SRV("t.test"), 33, DATA, B, "10 25 " MX } };
	fake_set = bogus;
	fake_n = 1;
	for (int k = 0; k < 2; k++) {
		T_ASSERT(vfy_check_start(v, chain, "t.test", time(NULL), done, &r) != NULL);
		ev_run(loop, 0);
		T_EQ_INT(r.v.result, VFY_TEMPFAIL);
		T_EQ_INT(r.v.cached, 0);
		T_EQ_INT(r.v.dns_lookups, 1);
	}
	/* the pass for example.test is still served from the cache */
	fake_set = rows[22].rr;	/* would now be a bogus SRV */
	fake_n = 1;
	T_ASSERT(strcmp(rows[22].label, "srv_bogus") == 0);
	for (int k = 0; k < 2; k++) {
		T_ASSERT(vfy_check_start(v, chain, "example.test", time(NULL), done, &r) != NULL);
		ev_run(loop, 0);
		T_EQ_INT(r.v.cached, 1);
	}
	vfy_get_stats(v, &st);
	if (st.cache_hits != 3 || st.cache_misses != 3 || st.cache_entries != 1) {
		vfy_deinit(&v);
		T_FAIL("stats: hits %llu, misses %llu, entries %llu", (unsigned long long)st.cache_hits,
		    (unsigned long long)st.cache_misses, (unsigned long long)st.cache_entries);
	}
	/* after a reload the cache is empty: the bogus SRV now decides, twice */
	char err[256];
	T_EQ_INT(vfy_reload(v, NULL, NULL, err, sizeof(err)), 0);
	for (int k = 0; k < 2; k++) {
		T_ASSERT(vfy_check_start(v, chain, "example.test", time(NULL), done, &r) != NULL);
		ev_run(loop, 0);
		T_EQ_INT(r.v.result, VFY_TEMPFAIL);
		T_EQ_INT(r.v.cached, 0);
		T_EQ_INT(r.v.dns_lookups, 1);
	}
	T_EQ_INT(vfy_reload(v, "/nonexistent.pem", NULL, err, sizeof(err)), -1);
	/* the old store is kept: a path to it still validates */
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (strcmp(rows[i].label, "no_tlsa_pkix_ct") == 0)
			fake_set = rows[i].rr;
	fake_n = 2;
	T_ASSERT(vfy_check_start(v, chain, "example.test", time(NULL), done, &r) != NULL);
	ev_run(loop, 0);
	T_EQ_INT(r.v.cached, 0);
	T_EQ_STR(r.v.trust, "pkix+ct");
	vfy_deinit(&v);
}

static void
t_cancel(void)
{
	struct vfy *v = mk(1, 1);
	struct result r = { 0 };
	struct vfy_check *c;

	T_ASSERT(v != NULL);
	fake_set = rows[0].rr;
	fake_n = 2;
	c = vfy_check_start(v, chain, "example.test", time(NULL), done, &r);
	T_ASSERT(c != NULL);
	vfy_check_cancel(&c);
	T_ASSERT(c == NULL);
	ev_run(loop, 0);
	T_EQ_INT(r.called, 0);
	T_EQ_INT(fake_live, 0);
	/* cancel a cached (pending delivery) check too */
	c = vfy_check_start(v, chain, "example.test", time(NULL), done, &r);
	ev_run(loop, 0);
	T_EQ_INT(r.called, 1);
	c = vfy_check_start(v, chain, "example.test", time(NULL), done, &r);
	T_ASSERT(c != NULL);
	vfy_check_cancel(&c);
	ev_run(loop, 0);
	T_EQ_INT(r.called, 1);
	T_ASSERT(vfy_check_start(v, chain, "", time(NULL), done, &r) == NULL);
	T_ASSERT(vfy_check_start(v, chain, "a.test.", time(NULL), done, &r) == NULL);
	vfy_deinit(&v);
}

/* The real resolver refuses to start without DNSSEC trust. */
static void
t_init_needs_dnssec(void)
{
	struct vfy_options o;
	struct vfy *v = NULL;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.dns.trust_anchor_file = "/nonexistent/root.key";
	T_EQ_INT(vfy_init(&v, loop, &o, err, sizeof(err)), -1);
	T_ASSERT(v == NULL);
	o.ca_file = "/nonexistent/ca.pem";
	T_EQ_INT(vfy_init(&v, loop, &o, err, sizeof(err)), -1);
}

/* ---- the Email pipeline (vfy.h: steps 2-9 in order) ---------------------- */

static struct vfy_chains *chains;	/* { leaf+inter, an unparsable chain } */

struct email_case {
	const char *label;
	const char *msg;
	uint32_t index;
	int bad_sig;		/* flip a signature byte */
	int no_vfy;		/* v NULL: steps 5-9 skipped */
	int now;		/* 1: decided by vfy_email_end itself */
	enum vfy_result want;
	enum vfy_step step;
	const char *trust, *from;
	unsigned lookups;	/* DNS queries made */
};

static const struct email_case email_cases[] = {
	{ "pass_dane_ee", "From: Alice <alice@example.test>\r\n\r\nhi\r\n", 0, 0, 0, 0,
	  VFY_PASS, VFY_STEP_DANE, "dane-ee", "example.test", 2 },
	{ "bad_signature_no_dns", "From: alice@example.test\r\n\r\nhi\r\n", 0, 1, 0, 1,
	  VFY_PERMFAIL, VFY_STEP_SIG, "", "", 0 },
	{ "chain_index_out_of_range", "From: alice@example.test\r\n\r\nhi\r\n", 2, 0, 0, 1,
	  VFY_PERMFAIL, VFY_STEP_CHAIN, "", "", 0 },
	{ "unparsable_chain", "From: alice@example.test\r\n\r\nhi\r\n", 1, 0, 0, 1,
	  VFY_PERMFAIL, VFY_STEP_SIG, "", "", 0 },
	{ "no_from", "Subject: x\r\n\r\nhi\r\n", 0, 0, 0, 1,
	  VFY_PERMFAIL, VFY_STEP_FROM, "", "", 0 },
	{ "two_from", "From: a@example.test\r\nFrom: b@example.test\r\n\r\nhi\r\n", 0, 0, 0, 1,
	  VFY_PERMFAIL, VFY_STEP_FROM, "", "", 0 },
	/* openssl cannot sign nothing: an all-zero signature over no bytes */
	{ "empty_message", "", 0, 0, 0, 1, VFY_PERMFAIL, VFY_STEP_SIG, "", "", 0 },
	{ "no_verifier_skips_5_to_9", "From: alice@example.test\r\n\r\nhi\r\n", 0, 0, 1, 1,
	  VFY_PASS, VFY_STEP_NONE, "unverified", "example.test", 0 },
};

/* Ed25519 over msg with data/leaf.key (openssl pkeyutl). */
static int
sign(const char *msg, uint8_t sig[64])
{
	char path[] = "/tmp/test_vfy_email.XXXXXX", cmd[2048];
	FILE *f;
	int fd = mkstemp(path), ok;

	if (fd < 0 || write(fd, msg, strlen(msg)) != (ssize_t)strlen(msg)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "openssl pkeyutl -sign -rawin -inkey %s -in %s", data_path("leaf.key"),
	    path);
	f = popen(cmd, "r");
	ok = f != NULL && fread(sig, 1, 64, f) == 64;
	if (f != NULL)
		ok = pclose(f) == 0 && ok;
	unlink(path);
	return ok ? 0 : -1;
}

struct email_result {
	int called;
	struct vfy_email *e;
};

static void
email_done(void *arg, struct vfy_email *e)
{
	struct email_result *r = arg;

	r->called++;
	r->e = e;
}

static void
run_email(const struct email_case *c, int bytewise)
{
	struct vfy *v = c->no_vfy ? NULL : mk(1, 1);
	struct email_result r = { 0 };
	struct vfy_email_head h;
	struct vfy_email *e;
	const struct vfy_verdict *vd;
	const struct vfy_from *from;
	uint8_t sig[64];
	size_t i, n = strlen(c->msg);
	int now;

	T_ASSERT(c->no_vfy || v != NULL);
	memset(sig, 0, sizeof(sig));
	T_ASSERT(n == 0 || sign(c->msg, sig) == 0);
	if (c->bad_sig)
		sig[10] ^= 1;
	fake_set = rows[0].rr;	/* dane_ee for example.test */
	fake_n = 2;
	fake_calls = 0;
	h.chain_index = c->index;
	h.algorithm = 0x0807;
	h.signature = sig;
	h.signature_len = sizeof(sig);
	e = vfy_email_begin(v, chains, &h);
	memset(sig, 0, sizeof(sig));	/* borrowed during begin only */
	for (i = 0; bytewise && i < n; i++)
		vfy_email_update(e, (const uint8_t *)c->msg + i, 1);
	if (!bytewise)
		vfy_email_update(e, (const uint8_t *)c->msg, n);
	now = vfy_email_end(e, (const uint8_t *)c->msg, n, time(NULL), email_done, &r);
	T_EQ_INT(now, c->now);
	T_EQ_INT(r.called, 0);		/* never before end returns */
	if (!now) {
		ev_run(loop, 0);
		T_EQ_INT(r.called, 1);
		T_ASSERT(r.e == e);
	}
	vd = vfy_email_verdict(e, &from);
	if (vd->result != c->want || vd->step != c->step)
		T_FAIL("got %s at %s (%s), want %s at %s", vfy_result_str(vd->result),
		    vfy_step_str(vd->step), vd->why, vfy_result_str(c->want), vfy_step_str(c->step));
	T_EQ_STR(vd->trust, c->trust);
	T_EQ_STR(from->domain, c->from);
	T_EQ_INT(fake_calls, c->lookups);
	T_ASSERT(vd->result == VFY_PASS || vd->why[0] != '\0');
	vfy_email_free(&e);
	T_ASSERT(e == NULL);
	vfy_deinit(&v);
	T_EQ_INT(fake_live, 0);
}

/* an Email freed while steps 5-9 run: the lookup is cancelled, no callback */
static void
t_email_cancel(void)
{
	const char *msg = "From: alice@example.test\r\n\r\nhi\r\n";
	struct vfy *v = mk(1, 1);
	struct email_result r = { 0 };
	struct vfy_email_head h = { 0, 0x0807, NULL, 64 };
	struct vfy_email *e;
	uint8_t sig[64];

	T_ASSERT(v != NULL && sign(msg, sig) == 0);
	h.signature = sig;
	fake_set = rows[0].rr;
	fake_n = 2;
	e = vfy_email_begin(v, chains, &h);
	vfy_email_update(e, (const uint8_t *)msg, strlen(msg));
	T_EQ_INT(vfy_email_end(e, (const uint8_t *)msg, strlen(msg), time(NULL), email_done, &r), 0);
	vfy_email_free(&e);
	ev_run(loop, 0);
	T_EQ_INT(r.called, 0);
	T_EQ_INT(fake_live, 0);
	vfy_deinit(&v);
}

/* Step 9's log list lives in verify/: loaded by vfy_init, swapped by
 * vfy_reload only when it loads (and the CA store too). */
static void
t_ct_list_in_vfy(void)
{
	struct vfy_options o;
	struct vfy_stats st;
	struct vfy *v = NULL;
	char err[512];
	size_t n;

	memset(&o, 0, sizeof(o));
	o.lookup = fake_lookup;
	o.lookup_cancel = fake_cancel;
	o.ct_log_list = "/nonexistent/log_list.json";
	T_EQ_INT(vfy_init(&v, loop, &o, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "ct_log_list /nonexistent/log_list.json") != NULL);
	o.ct_log_list = tutil_shared("ct-fixtures/loglist_testlog.json");
	T_EQ_INT(vfy_init(&v, loop, &o, err, sizeof(err)), 0);
	vfy_get_stats(v, &st);
	n = st.ct_logs;
	T_ASSERT(n > 0);
	T_EQ_INT(vfy_reload(v, NULL, "/nonexistent/other.json", err, sizeof(err)), -1);
	T_ASSERT(strncmp(err, "ct_log_list: ", 13) == 0);
	T_EQ_INT(vfy_reload(v, "/nonexistent/ca.pem", o.ct_log_list, err, sizeof(err)), -1);
	T_ASSERT(strncmp(err, "ca_file /nonexistent/ca.pem: ", 29) == 0);
	vfy_get_stats(v, &st);
	T_EQ_INT(st.ct_logs, n);	/* the old list kept */
	T_EQ_INT(vfy_reload(v, NULL, o.ct_log_list, err, sizeof(err)), 0);
	vfy_get_stats(v, &st);
	T_EQ_INT(st.ct_logs, n);
	vfy_deinit(&v);

	/* started without a list: a reload naming one that does not load is
	 * refused too; one that loads becomes step 9's */
	memset(&o, 0, sizeof(o));
	o.lookup = fake_lookup;
	o.lookup_cancel = fake_cancel;
	T_EQ_INT(vfy_init(&v, loop, &o, err, sizeof(err)), 0);
	vfy_get_stats(v, &st);
	T_EQ_INT(st.ct_logs, 0);
	T_EQ_INT(vfy_reload(v, NULL, "/nonexistent/other.json", err, sizeof(err)), -1);
	T_ASSERT(strncmp(err, "ct_log_list: ", 13) == 0);
	vfy_get_stats(v, &st);
	T_EQ_INT(st.ct_logs, 0);
	T_EQ_INT(vfy_reload(v, NULL, tutil_shared("ct-fixtures/loglist_testlog.json"), err,
	    sizeof(err)), 0);
	vfy_get_stats(v, &st);
	T_EQ_INT(st.ct_logs, n);
	vfy_deinit(&v);
	o.ct_log_list = tutil_shared("ct-fixtures/loglist_testlog.json");
	T_EQ_INT(vfy_preflight(&o, err, sizeof(err)), 0);
	o.ca_file = "/nonexistent/ca.pem";
	T_EQ_INT(vfy_preflight(&o, err, sizeof(err)), -1);
	T_ASSERT(strncmp(err, "ca_file /nonexistent/ca.pem: ", 29) == 0);
}

int
main(void)
{
	const char *files[] = { "leaf.pem", "inter.pem" };
	uint8_t *der[4];
	size_t len[4], n = 0, tl;
	const char *why;

	loop = ev_loop_new(EVFLAG_AUTO);
	for (size_t i = 0; i < 2; i++) {
		uint8_t *t = tutil_read_file(data_path(files[i]), &tl);
		int k = t ? vfy_pem_certs((const char *)t, tl, der + n, len + n, 4 - n) : -1;

		free(t);
		if (k < 0)
			return 1;
		n += (size_t)k;
	}
	if (vfy_chain_parse((const uint8_t *const *)der, len, n, &chain, &why) < 0)
		return 1;
	chains = vfy_chains_new(2);
	vfy_chains_set(chains, 0, (const uint8_t *const *)der, len, n);
	{
		static const uint8_t junk[] = { 0x30, 0x03, 0x01, 0x01, 0xff };
		const uint8_t *jp = junk;
		size_t jl = sizeof(junk);

		vfy_chains_set(chains, 1, &jp, &jl, 1);
	}
	while (n > 0)
		free(der[--n]);
	tlsa_txt = (char *)tutil_read_file(data_path("tlsa.txt"), &tl);
	if (tlsa_txt == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		T_CASE("check", rows[i].label, run_row(i));
	T_RUN(t_cache);
	T_RUN(t_cancel);
	T_RUN(t_init_needs_dnssec);
	for (size_t i = 0; i < sizeof(email_cases) / sizeof(email_cases[0]); i++) {
		char label[96];

		T_CASE("email", email_cases[i].label, run_email(&email_cases[i], 0));
		snprintf(label, sizeof(label), "%s[bytewise]", email_cases[i].label);
		T_CASE("email", label, run_email(&email_cases[i], 1));
	}
	T_RUN(t_email_cancel);
	T_RUN(t_ct_list_in_vfy);
	vfy_chains_free(&chains);
	vfy_chain_free(&chain);
	free(tlsa_txt);
	ev_loop_destroy(loop);
	return T_END();
}
