/*
 * vfy_check: steps 5-9 of SMTPSEC.md 4 as an asynchronous state machine on
 * libev, the chain verdict cache, and the verifier's set-up and reload.
 */
#include "verify/vfy.h"

#include <ev.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "verify/vfy_cache.h"
#include "verify/vfy_ct.h"
#include "verify/vfy_dane.h"
#include "verify/vfy_pkix.h"

#define MAX_TARGETS	16

struct vfy {
	struct ev_loop *loop;
	struct vfy_dns *dns;
	struct vfy_pkix *pkix;
	char *ca_file;
	struct vfy_ct_logs *ct_logs;	/* owned: step 9, unless a seam is set */
	unsigned min_scts, lifetime;
	vfy_ct_fn *ct;
	void *ct_arg;
	vfy_lookup_fn *lookup;
	vfy_lookup_cancel_fn *lookup_cancel;
	void *lookup_arg;
	struct vfy_lru *cache;		/* struct cached by cache_key (vfy_cache.h) */
	struct vfy_stats st;
};

struct target {
	struct vfy_srv srv;
	char name[256];		/* the SAN that matched */
};

struct vfy_check {
	struct vfy *v;
	const struct vfy_chain *chain;	/* borrowed */
	char f[VFY_FROM_DOMAIN_MAX];
	time_t now;
	vfy_check_cb *cb;
	void *arg;
	struct vfy_dns_query *q;
	ev_timer deliver;	/* cache hits go through the loop */
	struct target t[MAX_TARGETS];
	size_t n_t, cur;
	uint32_t min_ttl;
	struct vfy_verdict verdict;
	struct vfy_verdict first_fail;	/* SRVName: reported if no target passes */
};

const char *
vfy_result_str(enum vfy_result r)
{
	switch (r) {
	case VFY_PASS: return "pass";
	case VFY_PERMFAIL: return "fail";
	case VFY_TEMPFAIL: return "tempfail";
	default: return "unchecked";
	}
}

const char *
vfy_step_str(enum vfy_step s)
{
	static const char *const n[VFY_STEP_COUNT] = {
		"none", "signature", "from", "srv", "srv-insecure", "name",
		"dane", "pkix", "ct", "chain",
	};

	return (unsigned)s < VFY_STEP_COUNT ? n[s] : "unknown";
}

static void __attribute__((format(printf, 4, 5)))
set(struct vfy_verdict *vd, enum vfy_result r, enum vfy_step s, const char *fmt, ...)
{
	va_list ap;

	vd->result = r;
	vd->step = s;
	va_start(ap, fmt);
	vsnprintf(vd->why, sizeof(vd->why), fmt, ap);
	va_end(ap);
}

/* ---- steps 7-9 without DNS ------------------------------------------ */

struct tlsa_set {
	const struct vfy_tlsa *recs;
	size_t n;
};

/* DANE-TA: a sent certificate a usage 2 record names is an anchor. */
static int
ta_anchor(void *arg, const struct vfy_cert *c)
{
	const struct tlsa_set *ts = arg;

	return vfy_dane_cert_match_usage(c, ts->recs, ts->n, 2);
}

/* PKIX-TA: some CA certificate on the validated path (the store's anchor
 * included) matches a usage 0 record. */
static int
pkix_ta_on_path(void *arg, const struct vfy_path *path)
{
	const struct tlsa_set *ts = arg;

	for (size_t i = 1; i < path->n; i++)
		if (vfy_dane_cert_match_usage(path->cert[i], ts->recs, ts->n, 0))
			return 1;
	return 0;
}

/* Step 8 with the given anchors and hook, then step 9 unless exempt.
 * Returns 0 on PASS (vd set), -1 when step 8 failed (*why_r), -2 when
 * valid paths exist but the hook refused them all; a CT failure is
 * final (vd set, returns 0). */
static int
pkix_and_ct(const struct vfy_pkix *pkix, const struct vfy_pkix_params *prm,
    vfy_ct_fn *ct, void *ct_arg, unsigned min_scts, const struct vfy_chain *chain,
    int ct_exempt, const char *trust, struct vfy_verdict *vd, const char **why_r)
{
	struct vfy_path path;
	char buf[200];
	int r;

	if (prm->is_anchor == NULL && pkix == NULL) {
		/* ours, not the sender's: never a permanent failure */
		set(vd, VFY_TEMPFAIL, VFY_STEP_PKIX, "no CA store configured (local)");
		return 0;
	}
	r = vfy_pkix_verify(pkix, chain, prm, &path, why_r);
	if (r < 0)
		return r;
	if (!ct_exempt) {
		if (ct == NULL) {
			/* ours (no usable log list), not the sender's: temporary */
			set(vd, VFY_TEMPFAIL, VFY_STEP_CT, "certificate transparency not configured (local)");
			return 0;
		}
		buf[0] = '\0';
		/* the SCTs are signed over the leaf's issuer on the validated path */
		r = ct(ct_arg, chain, path.cert[1], prm->at, min_scts ? min_scts : 1, buf, sizeof(buf));
		if (r != 0) {
			set(vd, r == -2 ? VFY_TEMPFAIL : VFY_PERMFAIL, VFY_STEP_CT, "%s",
			    buf[0] ? buf : "not enough valid SCTs");
			return 0;
		}
	}
	vd->trust = trust;
	set(vd, VFY_PASS, ct_exempt ? VFY_STEP_PKIX : VFY_STEP_CT, "%s", trust);
	return 0;
}

void
vfy_check_after_tlsa(const struct vfy_pkix *pkix, vfy_ct_fn *ct, void *ct_arg,
    unsigned min_scts, const struct vfy_chain *chain, time_t now,
    const struct vfy_dns_answer *ans, struct vfy_verdict *vd)
{
	struct vfy_dane_match m;
	struct tlsa_set ts = { NULL, 0 };
	struct vfy_pkix_params prm = { .at = now };
	const char *why = NULL, *w;	/* why: the first PKIX failure */
	int no_store = 0;

	vd->trust = "";
	vd->tlsa_usage = -1;
	if (ans != NULL && (ans->result == VFY_DNS_TEMPFAIL ||
	    ans->status == VFY_DNS_BOGUS || ans->status == VFY_DNS_UNCHECKED)) {
		/* 4.7: bogus, SERVFAIL or timeout */
		set(vd, VFY_TEMPFAIL, VFY_STEP_DANE, "TLSA lookup failed: %s",
		    ans->why && ans->why[0] ? ans->why : vfy_dns_status_str(ans->status));
		return;
	}
	if (ans != NULL && ans->status == VFY_DNS_SECURE && ans->result == VFY_DNS_DATA) {
		ts.recs = ans->tlsa;
		ts.n = ans->n_tlsa;
	}
	vfy_dane_match(chain, ts.recs, ts.n, &m);
	if (m.n_usable == 0) {
		/* 4.7: secure NXDOMAIN/NODATA, insecure, or only unusable
		 * records: no DANE constraint */
		if (pkix_and_ct(pkix, &prm, ct, ct_arg, min_scts, chain, 0, "pkix+ct", vd, &why) < 0)
			set(vd, VFY_PERMFAIL, VFY_STEP_PKIX, "%s", why);
		return;
	}
	/* The first usage whose conditions hold decides, least checking
	 * first: DANE-EE, PKIX-EE (both exempt from CT), DANE-TA, PKIX-TA. */
	if (m.ee) {		/* DANE-EE: no PKIX, no CT (4.8, 4.9) */
		vd->tlsa_usage = 3;
		vd->trust = "dane-ee";
		set(vd, VFY_PASS, VFY_STEP_DANE, "dane-ee");
		return;
	}
	if (m.pkix_ee && pkix == NULL) {
		no_store = 1;
	} else if (m.pkix_ee) {	/* PKIX-EE: the store's path, leaf named: no CT */
		vd->tlsa_usage = 1;
		if (pkix_and_ct(pkix, &prm, ct, ct_arg, min_scts, chain, 1, "pkix-ee", vd, &w) == 0)
			return;
		why = w;
	}
	if (m.ta) {		/* DANE-TA: path to a sent certificate a record names */
		struct vfy_pkix_params p2 = { .at = now, .is_anchor = ta_anchor, .arg = &ts };
		int r;

		vd->tlsa_usage = 2;
		r = pkix_and_ct(NULL, &p2, ct, ct_arg, min_scts, chain, 0, "dane-ta", vd, &w);
		if (r == 0)
			return;
		/* -2: the named certificate is not on any path from the leaf:
		 * it matches nothing, as for usage 0 */
		if (r == -1 && why == NULL)
			why = w;
	}
	if (m.pkix_ta && pkix == NULL) {
		no_store = 1;
	} else if (m.pkix_ta) {	/* PKIX-TA: a named CA must be on the validated path */
		struct vfy_pkix_params p0 = { .at = now, .accept = pkix_ta_on_path, .arg = &ts };
		int r;

		vd->tlsa_usage = 0;
		r = pkix_and_ct(pkix, &p0, ct, ct_arg, min_scts, chain, 0, "pkix+ct", vd, &w);
		if (r == 0)
			return;
		if (r == -1 && why == NULL)
			why = w;
	}
	if (no_store) {		/* a record we could not judge: ours, temporary */
		vd->tlsa_usage = -1;
		set(vd, VFY_TEMPFAIL, VFY_STEP_PKIX, "no CA store configured (local)");
		return;
	}
	if (why != NULL) {
		set(vd, VFY_PERMFAIL, VFY_STEP_PKIX, "%s", why);
		return;
	}
	vd->tlsa_usage = -1;
	set(vd, VFY_PERMFAIL, VFY_STEP_DANE, "no TLSA record matches the chain");
}

/* ---- cache ------------------------------------------------------------ */

/* A verdict for (chain, F) with the second it expires (wall clock). */
struct cached {
	time_t expires;
	struct vfy_verdict vd;
};

#define CACHE_KEY_MAX	(64 + 1 + VFY_FROM_DOMAIN_MAX)

/* The chain's fingerprint in hex, ':', F. */
static void
cache_key(const struct vfy_chain *c, const char *f, char key[CACHE_KEY_MAX])
{
	for (size_t i = 0; i < 32; i++) {
		key[2 * i] = "0123456789abcdef"[c->fingerprint[i] >> 4];
		key[2 * i + 1] = "0123456789abcdef"[c->fingerprint[i] & 15];
	}
	snprintf(key + 64, CACHE_KEY_MAX - 64, ":%s", f);
}

static void
cache_put(struct vfy *v, const struct vfy_chain *c, const char *f,
    const struct vfy_verdict *vd, uint32_t ttl)
{
	time_t t = time(NULL);
	struct cached ce;
	char key[CACHE_KEY_MAX];

	if (vd->result != VFY_PASS && vd->result != VFY_PERMFAIL)
		return;		/* never a tempfail */
	if (ttl > v->lifetime)
		ttl = v->lifetime;
	if (ttl == 0)
		return;
	ce.expires = t + (time_t)ttl;
	if (c->not_after_min < ce.expires)
		ce.expires = c->not_after_min;
	if (ce.expires <= t)
		return;
	ce.vd = *vd;
	cache_key(c, f, key);
	vfy_lru_put(v->cache, key, (const uint8_t *)&ce, sizeof(ce), (uint64_t)ce.expires);
	v->st.cache_entries = vfy_lru_count(v->cache);
}

/* ---- the asynchronous check ------------------------------------------ */

static void
finish(struct vfy_check *c)
{
	struct vfy *v = c->v;
	struct vfy_verdict vd = c->verdict;

	if (vd.result != VFY_PASS && vd.result != VFY_PERMFAIL && vd.result != VFY_TEMPFAIL) {
		vd.result = VFY_TEMPFAIL;	/* fail closed, never cached */
		if (!vd.why[0])
			snprintf(vd.why, sizeof(vd.why), "internal: no verdict");
	}
	if (vd.result != VFY_PASS)
		vd.trust = "";
	if (!vd.cached) {
		vd.ttl = vd.result == VFY_TEMPFAIL ? 0 :
		    (c->min_ttl < v->lifetime ? c->min_ttl : v->lifetime);
		cache_put(v, c->chain, c->f, &vd, vd.ttl);
	}
	c->cb(c->arg, &vd);
	free(c);
}

static void
note_ttl(struct vfy_check *c, uint32_t ttl)
{
	if (ttl < c->min_ttl)
		c->min_ttl = ttl;
}

static void tlsa_next(struct vfy_check *c);

static void
on_tlsa(void *arg, const struct vfy_dns_answer *ans)
{
	struct vfy_check *c = arg;
	struct vfy *v = c->v;
	struct vfy_verdict vd;

	c->q = NULL;
	memset(&vd, 0, sizeof(vd));
	vfy_check_after_tlsa(v->pkix, v->ct, v->ct_arg, v->min_scts, c->chain, c->now, ans, &vd);
	if (vd.result != VFY_TEMPFAIL)
		note_ttl(c, ans->ttl);
	/* keep the counters and names gathered so far */
	c->verdict.result = vd.result;
	c->verdict.step = vd.step;
	c->verdict.trust = vd.trust;
	c->verdict.tlsa_usage = vd.tlsa_usage;
	memcpy(c->verdict.why, vd.why, sizeof(vd.why));
	if (vd.result == VFY_PERMFAIL && vd.step == VFY_STEP_DANE && c->cur + 1 < c->n_t) {
		/* 4.7: for an SRVName, try the next target */
		if (c->first_fail.result == VFY_UNCHECKED)
			c->first_fail = c->verdict;
		c->cur++;
		tlsa_next(c);
		return;
	}
	finish(c);
}

static void
tlsa_next(struct vfy_check *c)
{
	struct vfy *v = c->v;
	const struct target *t = &c->t[c->cur];
	char qname[300];

	snprintf(c->verdict.target, sizeof(c->verdict.target), "%s", t->srv.target);
	snprintf(c->verdict.matched_name, sizeof(c->verdict.matched_name), "%s", t->name);
	c->verdict.port = t->srv.port;
	snprintf(qname, sizeof(qname), "_%u._tcp.%s", (unsigned)t->srv.port, t->srv.target);
	c->verdict.dns_lookups++;
	c->q = v->lookup(v->lookup_arg, qname, VFY_DNS_T_TLSA, on_tlsa, c);
	if (c->q == NULL) {
		set(&c->verdict, VFY_PERMFAIL, VFY_STEP_DANE, "bad TLSA name %s", qname);
		finish(c);
	}
}

static void
on_srv(void *arg, const struct vfy_dns_answer *ans)
{
	struct vfy_check *c = arg;
	int srvname;

	c->q = NULL;
	if (ans->result == VFY_DNS_TEMPFAIL || ans->status == VFY_DNS_BOGUS ||
	    ans->status == VFY_DNS_UNCHECKED) {
		set(&c->verdict, VFY_TEMPFAIL, VFY_STEP_SRV, "SRV lookup failed: %s",
		    ans->why && ans->why[0] ? ans->why : vfy_dns_status_str(ans->status));
		finish(c);
		return;
	}
	note_ttl(c, ans->ttl);
	if (ans->status != VFY_DNS_SECURE) {
		set(&c->verdict, VFY_PERMFAIL, VFY_STEP_SRV_INSECURE,
		    "SRV answer for %s is not DNSSEC-signed", ans->qname);
		finish(c);
		return;
	}
	if (ans->result != VFY_DNS_DATA || ans->n_srv == 0) {
		set(&c->verdict, VFY_PERMFAIL, VFY_STEP_SRV, "no SRV record (%s)",
		    vfy_dns_result_str(ans->result));
		finish(c);
		return;
	}
	if (ans->n_srv == 1 && strcmp(ans->srv[0].target, ".") == 0) {
		set(&c->verdict, VFY_PERMFAIL, VFY_STEP_SRV, "SRV target is \".\" (no service)");
		finish(c);
		return;
	}
	/* step 6: the targets the certificate is issued to, in SRV order */
	srvname = vfy_chain_has_srvname(c->chain, c->f);
	for (size_t i = 0; i < ans->n_srv && c->n_t < MAX_TARGETS; i++) {
		const struct vfy_srv *s = &ans->srv[i];
		const char *dn;

		if (strcmp(s->target, ".") == 0)
			continue;
		dn = vfy_chain_has_dns(c->chain, s->target);
		if (dn == NULL && !srvname)
			continue;
		c->t[c->n_t].srv = *s;
		if (dn != NULL)
			snprintf(c->t[c->n_t].name, sizeof(c->t[c->n_t].name), "%s", dn);
		else
			snprintf(c->t[c->n_t].name, sizeof(c->t[c->n_t].name), "_smtpsec.%s", c->f);
		c->n_t++;
	}
	if (c->n_t == 0) {
		set(&c->verdict, VFY_PERMFAIL, VFY_STEP_NAME,
		    "certificate names neither a SRV target nor _smtpsec.%s", c->f);
		finish(c);
		return;
	}
	c->cur = 0;
	tlsa_next(c);
}

static void
on_deliver(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct vfy_check *c = w->data;

	(void)revents;
	ev_timer_stop(loop, w);
	finish(c);
}

struct vfy_check *
vfy_check_start(struct vfy *v, const struct vfy_chain *chain, const char *f,
    time_t now, vfy_check_cb *cb, void *arg)
{
	struct vfy_check *c;
	const struct cached *e;
	time_t t;
	char qname[300], key[CACHE_KEY_MAX];
	size_t fl = strlen(f), len;

	if (fl == 0 || fl >= VFY_FROM_DOMAIN_MAX || f[fl - 1] == '.')
		return NULL;
	c = mem_calloc(1, sizeof(*c));
	c->v = v;
	c->chain = chain;
	memcpy(c->f, f, fl + 1);
	c->now = now;
	c->cb = cb;
	c->arg = arg;
	c->min_ttl = UINT32_MAX;
	c->verdict.tlsa_usage = -1;
	c->verdict.trust = "";
	ev_timer_init(&c->deliver, on_deliver, 0., 0.);
	c->deliver.data = c;
	t = time(NULL);
	cache_key(chain, f, key);
	e = (const struct cached *)vfy_lru_get(v->cache, key, (uint64_t)t, &len);
	v->st.cache_entries = vfy_lru_count(v->cache);
	if (e != NULL) {
		v->st.cache_hits++;
		c->verdict = e->vd;
		c->verdict.cached = 1;
		c->verdict.dns_lookups = 0;
		c->verdict.ttl = (uint32_t)(e->expires - t);
		ev_timer_start(v->loop, &c->deliver);
		return c;
	}
	v->st.cache_misses++;
	snprintf(qname, sizeof(qname), "_smtpsec._tcp.%s", f);
	c->verdict.dns_lookups++;
	c->q = v->lookup(v->lookup_arg, qname, VFY_DNS_T_SRV, on_srv, c);
	if (c->q == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void
vfy_check_cancel(struct vfy_check **c_p)
{
	struct vfy_check *c = *c_p;

	if (c == NULL)
		return;
	if (c->q != NULL)
		c->v->lookup_cancel(c->v->lookup_arg, &c->q);
	ev_timer_stop(c->v->loop, &c->deliver);
	free(c);
	*c_p = NULL;
}

/* ---- lifecycle -------------------------------------------------------- */

static struct vfy_dns_query *
dns_lookup(void *arg, const char *name, uint16_t qtype, vfy_dns_cb *cb, void *cbarg)
{
	return vfy_dns_lookup(arg, name, qtype, cb, cbarg);
}

static void
dns_cancel(void *arg, struct vfy_dns_query **q_p)
{
	(void)arg;
	vfy_dns_cancel(q_p);
}

int
vfy_init(struct vfy **v_r, struct ev_loop *loop, const struct vfy_options *opt,
    char *err, size_t errlen)
{
	struct vfy *v = mem_calloc(1, sizeof(*v));

	v->loop = loop;
	v->min_scts = opt->ct_min_scts ? opt->ct_min_scts : 1;
	v->lifetime = opt->cache_lifetime ? opt->cache_lifetime : 600;
	v->cache = vfy_lru_new(opt->cache_entries ? opt->cache_entries : 4096);
	v->ct = opt->ct_check;
	v->ct_arg = opt->ct_arg;
	if (v->ct == NULL && opt->ct_log_list != NULL) {
		char why[256];

		if (vfy_ct_logs_load(opt->ct_log_list, &v->ct_logs, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "ct_log_list %s: %s", opt->ct_log_list, why);
			vfy_deinit(&v);
			return -1;
		}
		/* synchronous: no check holds the list across a reload */
		v->ct = vfy_ct_chain_check;
		v->ct_arg = v->ct_logs;
	}
	if (opt->ca_file != NULL) {
		v->ca_file = mem_strdup(opt->ca_file);
		if (vfy_pkix_load(opt->ca_file, &v->pkix, err, errlen) < 0) {
			vfy_deinit(&v);
			return -1;
		}
	}
	if (opt->lookup != NULL) {
		v->lookup = opt->lookup;
		v->lookup_cancel = opt->lookup_cancel;
		v->lookup_arg = opt->lookup_arg;
	} else {
		if (vfy_dns_init(&v->dns, loop, &opt->dns, err, errlen) < 0) {
			vfy_deinit(&v);
			return -1;
		}
		v->lookup = dns_lookup;
		v->lookup_cancel = dns_cancel;
		v->lookup_arg = v->dns;
	}
	*v_r = v;
	return 0;
}

int
vfy_reload(struct vfy *v, const char *ca_file, const char *ct_log_list, char *err, size_t errlen)
{
	struct vfy_pkix *p = NULL;
	struct vfy_ct_logs *ct = NULL;
	const char *path = ca_file ? ca_file : v->ca_file;
	char why[256];

	/* a list named here must load, whether or not init had one */
	if (ct_log_list != NULL && vfy_ct_logs_load(ct_log_list, &ct, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "ct_log_list: %s", why);
		return -1;
	}
	if (path != NULL) {
		if (vfy_pkix_load(path, &p, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "ca_file %s: %s", path, why);
			vfy_ct_logs_free(&ct);
			return -1;
		}
		if (path != v->ca_file) {
			free(v->ca_file);
			v->ca_file = mem_strdup(path);
		}
	}
	vfy_pkix_free(&v->pkix);
	v->pkix = p;
	if (ct != NULL && v->ct != NULL && v->ct != vfy_ct_chain_check)
		vfy_ct_logs_free(&ct);	/* a test's step-9 seam stays */
	if (ct != NULL) {
		v->ct = vfy_ct_chain_check;
		vfy_ct_logs_free(&v->ct_logs);
		v->ct_logs = ct;
		v->ct_arg = ct;
	}
	vfy_lru_clear(v->cache);
	v->st.cache_entries = 0;
	return 0;
}

void
vfy_deinit(struct vfy **v_p)
{
	struct vfy *v = *v_p;

	if (v == NULL)
		return;
	vfy_dns_deinit(&v->dns);
	vfy_pkix_free(&v->pkix);
	vfy_ct_logs_free(&v->ct_logs);
	free(v->ca_file);
	vfy_lru_free(&v->cache);
	free(v);
	*v_p = NULL;
}

void
vfy_get_stats(const struct vfy *v, struct vfy_stats *st_r)
{
	*st_r = v->st;
	st_r->ct_logs = vfy_ct_logs_count(v->ct_logs);
}

struct vfy_dns *
vfy_get_dns(struct vfy *v)
{
	return v->dns;
}
