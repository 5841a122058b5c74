/*
 * vfy_tool: what smtpsec-verify and the gateway's configuration check run
 * outside an Email (see vfy.h): a file loaded as the verifier would load it
 * and dropped, step 9 alone (--ct-only) and steps 6 and 8 alone
 * (--pkix-only), with the same functions vfy_check calls.
 */
#include "verify/vfy.h"

#include <stdio.h>
#include <string.h>

#include "verify/vfy_ct.h"
#include "verify/vfy_der.h"
#include "verify/vfy_pkix.h"

int
vfy_ca_file_check(const char *path, size_t *n_r, char *err, size_t errlen)
{
	struct vfy_pkix *p = NULL;

	if (vfy_pkix_load(path, &p, err, errlen) < 0)
		return -1;
	if (n_r != NULL)
		*n_r = vfy_pkix_count(p);
	vfy_pkix_free(&p);
	return 0;
}

int
vfy_ct_log_list_check(const char *path, size_t *n_r, size_t *usable_r, char *err, size_t errlen)
{
	struct vfy_ct_logs *l = NULL;

	if (vfy_ct_logs_load(path, &l, err, errlen) != 0)
		return -1;
	if (n_r != NULL)
		*n_r = vfy_ct_logs_count(l);
	if (usable_r != NULL)
		*usable_r = vfy_ct_logs_count_usable(l);
	vfy_ct_logs_free(&l);
	return 0;
}

int
vfy_preflight(const struct vfy_options *opt, char *err, size_t errlen)
{
	char why[256];

	if (opt->ca_file != NULL && vfy_ca_file_check(opt->ca_file, NULL, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "ca_file %s: %s", opt->ca_file, why);
		return -1;
	}
	if (opt->ct_log_list != NULL &&
	    vfy_ct_log_list_check(opt->ct_log_list, NULL, NULL, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "ct_log_list %s: %s", opt->ct_log_list, why);
		return -1;
	}
	if (opt->dns.trust_anchor_file != NULL &&
	    vfy_dns_check_trust_anchor(opt->dns.trust_anchor_file, err, errlen) < 0)
		return -1;
	return 0;
}

int
vfy_ct_only(const struct vfy_chain *chain, const char *ct_log_list, time_t at,
    struct vfy_ct_only *r)
{
	struct vfy_ct_logs *logs = NULL;
	struct vfy_ct_report rep;
	const struct vfy_cert *iss = NULL;
	char err[256];
	size_t i;

	memset(r, 0, sizeof(*r));
	r->valid = -1;
	/* no path here: the leaf's issuer is the sent certificate whose
	 * subject is the leaf's issuer name, in any position */
	for (i = 1; i < chain->n && iss == NULL; i++)
		if (chain->cert[i].subject_len == chain->cert[0].issuer_len &&
		    memcmp(chain->cert[i].subject, chain->cert[0].issuer,
		    chain->cert[0].issuer_len) == 0)
			iss = &chain->cert[i];
	if (iss == NULL)
		return -1;
	if (ct_log_list != NULL && vfy_ct_logs_load(ct_log_list, &logs, err, sizeof(err)) != 0)
		logs = NULL;	/* the caller reported it: no log counts */
	r->n_logs = vfy_ct_logs_count(logs);
	r->valid = vfy_ct_check_leaf(logs, chain->cert[0].der, chain->cert[0].der_len, iss->spki,
	    iss->spki_len, at, &rep);
	if (r->valid < 0)
		r->valid = -2;
	for (i = 0; r->valid >= 0 && i < rep.n_scts && i < VFY_CT_ONLY_SCTS; i++) {
		snprintf(r->sct[i].log, sizeof(r->sct[i].log), "%s", rep.sct[i].log);
		r->sct[i].timestamp_ms = rep.sct[i].timestamp_ms;
		r->sct[i].why = rep.sct[i].why;
		r->n_scts = i + 1;
	}
	vfy_ct_logs_free(&logs);
	return r->valid < 0 ? -1 : 0;
}

/* A Name as "CN=a, O=b" for display: common attribute types by their
 * short name, others as a dotted OID; bytes outside printable ASCII as
 * '?'.  "(unparsable)" when it is not a Name. */
static void
name_str(const uint8_t *name, size_t len, char *buf, size_t cap)
{
	static const struct {
		uint8_t last;
		const char *s;
	} at[] = { { 3, "CN" }, { 6, "C" }, { 7, "L" }, { 8, "ST" }, { 10, "O" }, { 11, "OU" } };
	struct vfy_der in = vfy_der_view(name, len), rdns, rdn;
	struct vfy_der_tlv t, atv, oid, val;
	size_t o = 0;

	buf[0] = '\0';
	if (vfy_der_expect(&in, VFY_DER_SEQUENCE, &t) < 0)
		goto bad;
	rdns = vfy_der_inner(&t);
	while (rdns.len > 0) {
		if (vfy_der_expect(&rdns, VFY_DER_SET, &t) < 0)
			goto bad;
		rdn = vfy_der_inner(&t);
		while (rdn.len > 0) {
			struct vfy_der a;
			const char *sn = NULL;
			char num[64];

			if (vfy_der_expect(&rdn, VFY_DER_SEQUENCE, &atv) < 0)
				goto bad;
			a = vfy_der_inner(&atv);
			if (vfy_der_expect(&a, VFY_DER_OID, &oid) < 0 || vfy_der_next(&a, &val) < 0)
				goto bad;
			for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
				static const uint8_t x520[] = { 0x55, 0x04 };

				if (oid.len == 3 && memcmp(oid.val, x520, 2) == 0 &&
				    oid.val[2] == at[i].last)
					sn = at[i].s;
			}
			if (sn == NULL) {
				unsigned long v = 0;
				size_t n = 0;

				for (size_t i = 0; i < oid.len && n < sizeof(num) - 24; i++) {
					v = v << 7 | (oid.val[i] & 0x7f);
					if (oid.val[i] & 0x80)
						continue;
					if (n == 0)
						n += (size_t)snprintf(num, sizeof(num), "%lu.%lu",
						    v < 80 ? v / 40 : 2, v < 80 ? v % 40 : v - 80);
					else
						n += (size_t)snprintf(num + n, sizeof(num) - n, ".%lu", v);
					v = 0;
				}
				sn = n ? num : "?";
			}
			o += (size_t)snprintf(buf + o, cap - o, "%s%s=", o ? ", " : "", sn);
			for (size_t i = 0; i < val.len && o + 1 < cap; i++)
				buf[o++] = val.val[i] >= 0x20 && val.val[i] < 0x7f ? (char)val.val[i] : '?';
			buf[o < cap ? o : cap - 1] = '\0';
			if (o + 1 >= cap)
				return;
		}
	}
	return;
bad:
	snprintf(buf, cap, "(unparsable)");
}

int
vfy_pkix_only(const struct vfy_chain *chain, const char *host, const char *ca_file, time_t at,
    struct vfy_pkix_only *r, char *err, size_t errlen)
{
	struct vfy_pkix *store = NULL;
	struct vfy_path path;

	memset(r, 0, sizeof(*r));
	r->named = vfy_chain_has_dns(chain, host) != NULL;
	if (vfy_pkix_load(ca_file, &store, err, errlen) < 0)
		return -1;
	r->n_ca = vfy_pkix_count(store);
	r->valid = vfy_pkix_verify(store, chain, &(struct vfy_pkix_params){ .at = at }, &path, &r->why);
	for (size_t i = 0; r->valid == 0 && i < path.n && i < VFY_CHAIN_MAX_CERTS + 1; i++) {
		name_str(path.cert[i]->subject, path.cert[i]->subject_len, r->subject[i],
		    sizeof(r->subject[i]));
		r->sent[i] = path.sent[i];
		r->n = i + 1;
	}
	vfy_pkix_free(&store);
	return 0;
}
