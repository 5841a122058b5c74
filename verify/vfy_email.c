/*
 * vfy_email: one Email's verification, SMTPSEC.md 4 steps 2-9 in order
 * (see vfy.h): the chain index (2), the signature over the message as it
 * streams (3), the author domain (4), then vfy_check (5-9, CT included).
 * The gateway and smtpsec-verify both run this; nothing else orders steps.
 */
#include "verify/vfy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/vfy_from.h"
#include "verify/vfy_sig.h"
#include "base/mem.h"
#include "verify/vfy_x509.h"

struct vfy_chains {
	size_t n;
	struct vfy_chain **c;	/* owned; NULL: unparsable, see why */
	const char **why;	/* static */
};

struct vfy_email {
	struct vfy *v;		/* NULL: steps 5-9 skipped */
	const struct vfy_chain *chain;	/* borrowed from the chains; NULL: step 2 or 3 fails */
	int no_chain;		/* step 2: the index names no chain */
	const char *chain_why;
	struct vfy_sig_stream *sig;	/* step 3 while the body arrives */
	int sig_rc;		/* decided at begin (key, algorithm, length) */
	const char *sig_why;
	struct vfy_check *chk;	/* steps 5-9 running */
	vfy_email_cb *cb;
	void *arg;
	struct vfy_from from;
	struct vfy_verdict vd;
};

struct vfy_chains *
vfy_chains_new(size_t n)
{
	struct vfy_chains *cs = mem_calloc(1, sizeof(*cs));

	cs->n = n;
	cs->c = mem_calloc(n ? n : 1, sizeof(*cs->c));
	cs->why = mem_calloc(n ? n : 1, sizeof(*cs->why));
	return cs;
}

void
vfy_chains_set(struct vfy_chains *cs, size_t i, const uint8_t *const *der, const size_t *len,
    size_t n)
{
	cs->why[i] = "empty chain";
	if (n > 0 && vfy_chain_parse(der, len, n, &cs->c[i], &cs->why[i]) != 0)
		cs->c[i] = NULL;
}

void
vfy_chains_free(struct vfy_chains **cs_p)
{
	struct vfy_chains *cs = *cs_p;
	size_t i;

	if (cs == NULL)
		return;
	*cs_p = NULL;
	for (i = 0; i < cs->n; i++)
		vfy_chain_free(&cs->c[i]);
	free(cs->c);
	free(cs->why);
	free(cs);
}

struct vfy_email *
vfy_email_begin(struct vfy *v, const struct vfy_chains *cs, const struct vfy_email_head *h)
{
	struct vfy_email *e = mem_calloc(1, sizeof(*e));

	e->v = v;
	e->vd.tlsa_usage = -1;
	e->vd.trust = "";
	if (cs == NULL || h->chain_index >= cs->n) {
		e->no_chain = 1;
		return e;
	}
	e->chain = cs->c[h->chain_index];
	e->chain_why = cs->why[h->chain_index];
	if (e->chain != NULL)
		e->sig = vfy_sig_stream_begin(e->chain->cert[0].spki, e->chain->cert[0].spki_len,
		    h->algorithm, h->signature, h->signature_len, &e->sig_rc, &e->sig_why);
	return e;
}

void
vfy_email_update(struct vfy_email *e, const uint8_t *p, size_t n)
{
	if (e->sig != NULL)
		vfy_sig_stream_update(e->sig, p, n);
}

static int
decided(struct vfy_email *e, enum vfy_result r, enum vfy_step step, const char *why)
{
	e->vd.result = r;
	e->vd.step = step;
	snprintf(e->vd.why, sizeof(e->vd.why), "%s", why);
	return 1;
}

static void
check_done(void *arg, const struct vfy_verdict *vd)
{
	struct vfy_email *e = arg;

	e->chk = NULL;
	e->vd = *vd;
	e->cb(e->arg, e);
}

/* Step 2 (the chain index) and the chain step 3 needs: 1 when they decided. */
static int
chain_failed(struct vfy_email *e)
{
	if (e->no_chain)
		return decided(e, VFY_PERMFAIL, VFY_STEP_CHAIN, "certificate_chain index out of range");
	if (e->chain == NULL)
		return decided(e, VFY_PERMFAIL, VFY_STEP_SIG, e->chain_why ? e->chain_why : "bad chain");
	return 0;
}

int
vfy_email_local(struct vfy_email *e, const uint8_t *msg, size_t len)
{
	const char *why = NULL;
	int r;

	if (chain_failed(e))
		return 1;
	/* step 3: signature, before any DNS; the stream saw every body byte */
	if (e->sig != NULL)
		r = vfy_sig_stream_end(&e->sig, &why);
	else {
		r = e->sig_rc;
		why = e->sig_why;
	}
	if (r != VFY_SIG_OK)
		return decided(e, VFY_PERMFAIL, VFY_STEP_SIG, why ? why : "bad signature");
	/* step 4: author domain */
	if (vfy_from_parse(msg, len, &e->from, &why) != 0) {
		memset(&e->from, 0, sizeof(e->from));
		return decided(e, VFY_PERMFAIL, VFY_STEP_FROM, why ? why : "bad From");
	}
	return 0;
}

int
vfy_email_check(struct vfy_email *e, struct vfy *v, const char *f, time_t now, vfy_email_cb *cb,
    void *arg)
{
	if (chain_failed(e))
		return 1;
	if (f == NULL)
		f = e->from.domain;
	/* steps 5-9: SRV, name, DANE, PKIX, CT (asynchronous) */
	if (v == NULL) {
		decided(e, VFY_PASS, VFY_STEP_NONE, "");
		e->vd.trust = "unverified";
		snprintf(e->vd.target, sizeof(e->vd.target), "%s", f);
		snprintf(e->vd.matched_name, sizeof(e->vd.matched_name), "%s", f);
		return 1;
	}
	e->cb = cb;
	e->arg = arg;
	e->chk = vfy_check_start(v, e->chain, f, now, check_done, e);
	if (e->chk == NULL)
		return decided(e, VFY_PERMFAIL, VFY_STEP_FROM, "author domain unusable");
	return 0;
}

int
vfy_email_end(struct vfy_email *e, const uint8_t *msg, size_t len, time_t now, vfy_email_cb *cb,
    void *arg)
{
	if (vfy_email_local(e, msg, len))
		return 1;
	return vfy_email_check(e, e->v, NULL, now, cb, arg);
}

const struct vfy_verdict *
vfy_email_verdict(const struct vfy_email *e, const struct vfy_from **from_r)
{
	if (from_r != NULL)
		*from_r = &e->from;
	return &e->vd;
}

void
vfy_email_free(struct vfy_email **e_p)
{
	struct vfy_email *e = *e_p;

	if (e == NULL)
		return;
	*e_p = NULL;
	vfy_check_cancel(&e->chk);
	vfy_sig_stream_free(&e->sig);
	free(e);
}
