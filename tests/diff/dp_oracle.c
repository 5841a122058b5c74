/*
 * dp_oracle: our verdict for SMTPSEC.md 4 steps 6-8 against OpenSSL's on
 * one scenario (dp.h).
 *
 * Ours: vfy_chain_has_dns(D) or vfy_chain_has_srvname(F) (step 6), then
 * vfy_check_after_tlsa() with a secure TLSA answer holding the scenario's
 * records, or none (steps 7-8).  Step 9 is not compared: the CT hook
 * accepts every chain (CT is tested in test_vfy_ct and t_ct.sh).
 *
 * OpenSSL's: X509_check_host(D) on the leaf (never the CN, no partial
 * wildcards) or an SRVName "_smtpsec.F" read from the leaf; then
 * X509_verify_cert with the store = the root, untrusted = the sent
 * certificates after the leaf, the time fixed, purpose sslserver
 * (vfy_pkix requires serverAuth when EKU is present) and, with TLSA
 * records, OpenSSL's DANE (SSL_dane_enable/SSL_dane_tlsa_add on an SSL
 * that only holds the state, X509_STORE_CTX_set0_dane).  DANE-EE skips
 * PKIX in both.
 *
 * What OpenSSL does not know is added from the project's documented rules
 * (README "Protocol notes", verify/vfy_nc.h), each checked here on its own:
 *   - SRVName name constraints (RFC 4985), and the Name part of an
 *     SRVName held to the CA's dNSName subtrees (a leading dot there
 *     still admits the domain itself).  OpenSSL sees the certificates
 *     without the SRVName constraints (it would refuse them as an
 *     unsupported form); the oracle checks them on OpenSSL's path.
 *   - An excluded dNSName ".Z" also excludes Z itself (the wider
 *     reading; OpenSSL: only names below Z).
 *   - A wildcard SAN "*.Z" is excluded when a name it could stand for,
 *     "L.Z", is excluded (OpenSSL compares the literal string).
 *   - A dNSName SAN that is not a host name (LDH or "_" labels, an
 *     optional leading "*.") fails closed under any CA with dNSName
 *     subtrees (OpenSSL compares the literal string).
 *   - Anchors: the store root or a sent certificate a usage 2 record
 *     names, valid at receipt time, cA=TRUE (anchor_rules()); their
 *     extendedKeyUsage is not checked (anchor_eku_cb()).
 *   - Path building backtracks (SMTPSEC.md 4 step 8); OpenSSL takes the
 *     first fitting issuer of a name, so every choice of one sent
 *     certificate per subject name is tried; with usage 2 records each
 *     also without the store (a sent root the store also holds is
 *     otherwise taken from the store, where DANE-TA is not matched).
 *   - No digest agility (RFC 7671 9): see dane_ctx below.
 */
#include "tests/diff/dp.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "verify/vfy.h"
#include "verify/vfy_pkix.h"
#include "verify/vfy_x509.h"

#define HOSTFLAGS (X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS)

/* Step 9 is out of scope: every chain has its SCTs. */
static int
ct_accept(void *arg, const struct vfy_chain *chain, const struct vfy_cert *issuer,
    time_t now, unsigned min_scts, char *why, size_t whylen)
{
	return 0;
}

/* ---- our side --------------------------------------------------------------- */

static int store_fd = -1;

/* vfy_pkix_load reads a file: the root goes to a memfd. */
static const char *
store_file(X509 *root)
{
	static char path[64];
	BIO *b = BIO_new(BIO_s_mem());
	char *pem;
	long len;

	if (store_fd < 0) {
		store_fd = memfd_create("dp-store", 0);
		if (store_fd < 0)
			return NULL;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", store_fd);
	}
	if (b == NULL || !PEM_write_bio_X509(b, root)) {
		BIO_free(b);
		return NULL;
	}
	len = BIO_get_mem_data(b, &pem);
	if (ftruncate(store_fd, 0) < 0 || pwrite(store_fd, pem, (size_t)len, 0) != len) {
		BIO_free(b);
		return NULL;
	}
	BIO_free(b);
	return path;
}

static void
ours(const struct dp_scn *scn, const struct dp_mat *m, struct dp_result *r)
{
	const uint8_t *der[1 + DP_MAX_SENT];
	size_t len[1 + DP_MAX_SENT], n = 0;
	struct vfy_chain *chain = NULL;
	struct vfy_pkix *pkix = NULL;
	struct vfy_tlsa recs[DP_MAX_TLSA];
	struct vfy_dns_answer ans;
	struct vfy_verdict vd;
	const char *why, *path;
	char err[256];

	r->ours_pass = 0;
	der[n] = m->der[scn->leaf];
	len[n++] = m->der_len[scn->leaf];
	for (int i = 0; i < scn->n_sent; i++) {
		der[n] = m->der[scn->sent[i]];
		len[n++] = m->der_len[scn->sent[i]];
	}
	if (vfy_chain_parse(der, len, n, &chain, &why) < 0) {
		snprintf(r->ours_why, sizeof(r->ours_why), "name: chain unparsable: %s", why);
		return;
	}
	if (!vfy_chain_has_dns(chain, scn->d) && !vfy_chain_has_srvname(chain, scn->f)) {
		snprintf(r->ours_why, sizeof(r->ours_why), "name: neither %s nor _smtpsec.%s",
		    scn->d, scn->f);
		goto out;
	}
	path = store_file(m->x[0]);
	if (path == NULL || vfy_pkix_load(path, &pkix, err, sizeof(err)) < 0) {
		snprintf(r->ours_why, sizeof(r->ours_why), "harness: store: %s", path ? err : "memfd");
		r->skipped = -1;
		goto out;
	}
	for (int i = 0; i < scn->n_tlsa; i++)
		recs[i] = (struct vfy_tlsa){ (uint8_t)scn->t[i].usage, (uint8_t)scn->t[i].selector,
		    (uint8_t)scn->t[i].mtype, m->tlsa_len[i], m->tlsa_data[i] };
	memset(&ans, 0, sizeof(ans));
	ans.qname = "_4650._tcp.dp";
	ans.qtype = VFY_DNS_T_TLSA;
	ans.result = VFY_DNS_DATA;
	ans.status = VFY_DNS_SECURE;
	ans.ttl = 300;
	ans.why = "";
	ans.n_tlsa = (size_t)scn->n_tlsa;
	ans.tlsa = recs;
	memset(&vd, 0, sizeof(vd));
	vfy_check_after_tlsa(pkix, ct_accept, NULL, 1, chain, scn->now,
	    scn->n_tlsa ? &ans : NULL, &vd);
	r->ours_pass = vd.result == VFY_PASS;
	snprintf(r->ours_why, sizeof(r->ours_why), "%s: %s: %s", vfy_result_str(vd.result),
	    vfy_step_str(vd.step), vd.why);
	if (vd.result == VFY_TEMPFAIL)	/* a local fault: never expected here */
		r->skipped = -1;
out:
	vfy_pkix_free(&pkix);
	vfy_chain_free(&chain);
}

/* ---- the rules OpenSSL lacks ------------------------------------------------- */

/* RFC 5280 4.2.1.10 dNSName: "" everything; "x.y" itself and below;
 * ".x.y" only below; case-insensitive. */
static int
dns_within(const char *name, const char *base)
{
	size_t nl = strlen(name), bl = strlen(base);

	if (bl == 0)
		return 1;
	if (base[0] == '.')
		return nl > bl && strcasecmp(name + nl - bl, base) == 0;
	if (nl == bl)
		return strcasecmp(name, base) == 0;
	return nl > bl && name[nl - bl - 1] == '.' && strcasecmp(name + nl - bl, base) == 0;
}

/* Split "_svc.name" at the first dot; NULL when not of that form. */
static const char *
srv_name_part(const char *s, size_t *svc_len_r)
{
	const char *dot = strchr(s, '.');

	if (s[0] != '_' || dot == NULL || dot == s + 1 || dot[1] == '\0')
		return NULL;
	*svc_len_r = (size_t)(dot - s);
	return dot + 1;
}

/* RFC 4985 3: "_Service.Name" matches that service with a Name within
 * Name; "Name" matches any service. */
static int
srv_within(const char *srv, const char *base)
{
	size_t sl, bl;
	const char *sn = srv_name_part(srv, &sl), *bn;

	if (sn == NULL)
		return 0;
	if (base[0] != '_')
		return dns_within(sn, base);
	bn = srv_name_part(base, &bl);
	return bn != NULL && bl == sl && strncasecmp(srv, base, sl) == 0 && dns_within(sn, bn);
}

/* Project rule: an SRVName's Name against a dNSName subtree, where a
 * leading dot still admits the domain itself. */
static int
srv_in_dns_subtree(const char *srv, const char *base)
{
	size_t sl;
	const char *sn = srv_name_part(srv, &sl);

	if (sn == NULL)
		return 0;
	return dns_within(sn, base[0] == '.' ? base + 1 : base);
}

/* Project rule: is dNSName name in the excluded subtree base?  ".Z"
 * also excludes Z; a wildcard "*.Z" is excluded when some "L.Z" is. */
static int
dns_excluded(const char *name, const char *base)
{
	const char *z = name + 1;	/* ".Z" of a wildcard */
	size_t zl = strlen(z), bl;

	if (base[0] == '.')
		base++;
	if (dns_within(name, base))
		return 1;
	if (strncmp(name, "*.", 2) != 0)
		return 0;
	bl = strlen(base);
	if (bl <= zl || strcasecmp(base + bl - zl, z) != 0)
		return dns_within(name + 2, base);	/* Z itself within base */
	return memchr(base, '.', bl - zl) == NULL;	/* base = "L.Z" */
}

/* A host name: labels of letters, digits, "-" or "_", an optional
 * leading "*." label. */
static int
dns_syntax_ok(const char *n)
{
	size_t label = 0;

	if (strncmp(n, "*.", 2) == 0)
		n += 2;
	if (*n == '\0')
		return 0;
	for (; *n != '\0'; n++) {
		if (*n == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		    (*n >= '0' && *n <= '9') || *n == '-' || *n == '_') || ++label > 63)
			return 0;
	}
	return label > 0;
}

static const char *
ia5(const ASN1_STRING *s, char *buf, size_t len)
{
	int n = ASN1_STRING_length(s);

	if (ASN1_STRING_type(s) != V_ASN1_IA5STRING || n < 0 || (size_t)n >= len ||
	    memchr(ASN1_STRING_get0_data(s), '\0', (size_t)n) != NULL)
		return NULL;
	memcpy(buf, ASN1_STRING_get0_data(s), (size_t)n);
	buf[n] = '\0';
	return buf;
}

/* An SRVName (id-on-dnsSRV, IA5String) of a GeneralName, or NULL. */
static const char *
gn_srv(const GENERAL_NAME *g, char *buf, size_t len)
{
	const ASN1_TYPE *v;

	if (g->type != GEN_OTHERNAME || OBJ_obj2nid(g->d.otherName->type_id) != NID_SRVName)
		return NULL;
	v = g->d.otherName->value;
	if (v == NULL || v->type != V_ASN1_IA5STRING)
		return NULL;
	return ia5(v->value.ia5string, buf, len);
}

static const char *
gn_dns(const GENERAL_NAME *g, char *buf, size_t len)
{
	return g->type == GEN_DNS ? ia5(g->d.dNSName, buf, len) : NULL;
}

/* 1 when the leaf carries SRVName "_smtpsec.F" (case-insensitive). */
static int
leaf_has_srvname(X509 *leaf, const char *f)
{
	GENERAL_NAMES *gs = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	char want[300], buf[300];
	const char *s;
	int found = 0;

	snprintf(want, sizeof(want), "_smtpsec.%s", f);
	for (int i = 0; i < sk_GENERAL_NAME_num(gs); i++)
		if ((s = gn_srv(sk_GENERAL_NAME_value(gs, i), buf, sizeof(buf))) != NULL &&
		    strcasecmp(s, want) == 0)
			found = 1;
	GENERAL_NAMES_free(gs);
	return found;
}

/*
 * The added rules for the leaf's names under one CA's nameConstraints
 * (the CA as the scenario made it, SRVName subtrees included).  0 ok, -1
 * with why.
 */
static int
extra_nc(X509 *ca, X509 *leaf, char *why, size_t whylen)
{
	NAME_CONSTRAINTS *nc = X509_get_ext_d2i(ca, NID_name_constraints, NULL, NULL);
	GENERAL_NAMES *gs = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	int rc = 0;

	for (int i = 0; nc != NULL && rc == 0 && i < sk_GENERAL_NAME_num(gs); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gs, i);
		char nb[300], bb[300];
		const char *srv = gn_srv(g, nb, sizeof(nb)), *dns, *b;
		int have_psrv = 0, in_psrv = 0, have_pdns = 0, in_pdns = 0;

		if (srv == NULL) {
			/* a dNSName: the excluded rules and malformed names */
			int n_dns_subtrees = 0;

			if ((dns = gn_dns(g, nb, sizeof(nb))) == NULL)
				continue;
			for (int k = 0; k < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); k++)
				n_dns_subtrees += gn_dns(sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, k)->base,
				    bb, sizeof(bb)) != NULL;
			for (int k = 0; k < sk_GENERAL_SUBTREE_num(nc->excludedSubtrees); k++) {
				const GENERAL_NAME *base = sk_GENERAL_SUBTREE_value(nc->excludedSubtrees, k)->base;

				if ((b = gn_dns(base, bb, sizeof(bb))) == NULL)
					continue;
				n_dns_subtrees++;
				if (dns_syntax_ok(dns) && dns_excluded(dns, b)) {
					snprintf(why, whylen, "dNSName %s in excluded %s", dns, b);
					rc = -1;
				}
			}
			if (rc == 0 && n_dns_subtrees > 0 && !dns_syntax_ok(dns)) {
				snprintf(why, whylen, "malformed dNSName %s under dNSName constraints", dns);
				rc = -1;
			}
			continue;
		}
		for (int k = 0; k < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); k++) {
			const GENERAL_NAME *base = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, k)->base;

			if ((b = gn_srv(base, bb, sizeof(bb))) != NULL) {
				have_psrv = 1;
				in_psrv |= srv_within(srv, b);
			} else if ((b = gn_dns(base, bb, sizeof(bb))) != NULL) {
				have_pdns = 1;
				in_pdns |= srv_in_dns_subtree(srv, b);
			}
		}
		if (have_psrv && !in_psrv) {
			snprintf(why, whylen, "SRVName %s outside the permitted SRVName subtrees", srv);
			rc = -1;
		} else if (have_pdns && !in_pdns) {
			snprintf(why, whylen, "SRVName %s outside the permitted dNSName subtrees", srv);
			rc = -1;
		}
		for (int k = 0; rc == 0 && k < sk_GENERAL_SUBTREE_num(nc->excludedSubtrees); k++) {
			const GENERAL_NAME *base = sk_GENERAL_SUBTREE_value(nc->excludedSubtrees, k)->base;

			if (((b = gn_srv(base, bb, sizeof(bb))) != NULL && srv_within(srv, b)) ||
			    ((b = gn_dns(base, bb, sizeof(bb))) != NULL && srv_in_dns_subtree(srv, b))) {
				snprintf(why, whylen, "SRVName %s in excluded %s", srv, b);
				rc = -1;
			}
		}
	}
	NAME_CONSTRAINTS_free(nc);
	GENERAL_NAMES_free(gs);
	return rc;
}

/* ---- OpenSSL's side ------------------------------------------------------------ */

static SSL_CTX *dane_ctx;

/* 1 when a record of the given usage matches certificate i of m. */
static int
record_matches(const struct dp_scn *scn, const struct dp_mat *m, int usage, int i)
{
	for (int r = 0; r < scn->n_tlsa; r++) {
		const struct dp_tspec *t = &scn->t[r];
		const uint8_t *p = t->selector == 1 ? m->spki[i] : m->der[i];
		size_t len = t->selector == 1 ? m->spki_len[i] : m->der_len[i];
		uint8_t md[64];
		unsigned mdlen = 0;

		if (t->usage != usage || t->selector > 1 || t->mtype > 2 || t->bad_len)
			continue;
		if (t->mtype == 0) {
			if (m->tlsa_len[r] == len && memcmp(m->tlsa_data[r], p, len) == 0)
				return 1;
			continue;
		}
		if (EVP_Digest(p, len, md, &mdlen, t->mtype == 2 ? EVP_sha512() : EVP_sha256(), NULL) &&
		    mdlen == m->tlsa_len[r] && memcmp(md, m->tlsa_data[r], mdlen) == 0)
			return 1;
	}
	return 0;
}

static int
index_of(const struct dp_scn *scn, const struct dp_mat *m, X509 *x)
{
	for (int i = 0; i < scn->n; i++)
		if (X509_cmp(m->x[i], x) == 0)
			return i;
	return -1;
}

/* Valid at t, bounds included (RFC 5280 4.1.2.5). */
static int
valid_at(X509 *x, time_t t)
{
	return X509_cmp_time(X509_get0_notBefore(x), &t) <= 0 &&
	    X509_cmp_time(X509_get0_notAfter(x), &t) >= 0;
}

/* Project rule: the checks on an anchor are those README "Trust anchors"
 * lists; extendedKeyUsage is not one of them (nor is it for the store
 * root in OpenSSL), but OpenSSL's purpose check covers a DANE-TA anchor
 * that is not self-issued.  Let that one error pass. */
static int
anchor_eku_cb(int ok, X509_STORE_CTX *ctx)
{
	int depth = X509_STORE_CTX_get_error_depth(ctx);

	if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_INVALID_PURPOSE && depth > 0 &&
	    depth == sk_X509_num(X509_STORE_CTX_get0_chain(ctx)) - 1)
		return 1;
	return ok;
}

/*
 * One X509_verify_cert run with the sent certificates whose bit is not in
 * drop.  1 pass (path_r: spec indices, leaf first), 0 fail (why), -1
 * harness error.
 */
static int
ossl_run(const struct dp_scn *scn, const struct dp_mat *os, unsigned drop, int no_store,
    int *path_r, int *n_path_r, char *why, size_t whylen)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	SSL *ssl = NULL;
	int rc = -1, usable = 0;

	if (store == NULL || ctx == NULL || untrusted == NULL ||
	    (!no_store && !X509_STORE_add_cert(store, os->x[0])))
		goto out;
	for (int i = 0; i < scn->n_sent; i++)
		if (!(drop & (1u << i)) && !sk_X509_push(untrusted, os->x[scn->sent[i]]))
			goto out;
	if (!X509_STORE_CTX_init(ctx, store, os->x[scn->leaf], untrusted))
		goto out;
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), scn->now);
	X509_VERIFY_PARAM_set_hostflags(X509_STORE_CTX_get0_param(ctx), HOSTFLAGS);
	if (!X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER))
		goto out;
	if (getenv("DP_OPENSSL_TA_RULES") == NULL)
		X509_STORE_CTX_set_verify_cb(ctx, anchor_eku_cb);
	if (scn->n_tlsa > 0) {
		ssl = SSL_new(dane_ctx);
		if (ssl == NULL || SSL_dane_enable(ssl, scn->d) <= 0)
			goto out;
		for (int i = 0; i < scn->n_tlsa; i++) {
			const struct dp_tspec *t = &scn->t[i];
			int a = SSL_dane_tlsa_add(ssl, (uint8_t)t->usage, (uint8_t)t->selector,
			    (uint8_t)t->mtype, os->tlsa_data[i], os->tlsa_len[i]);

			if (a < 0)
				goto out;
			usable += a > 0;
		}
		if (usable > 0)
			X509_STORE_CTX_set0_dane(ctx, SSL_get0_dane(ssl));
	}
	if (X509_verify_cert(ctx) != 1) {
		int e = X509_STORE_CTX_get_error(ctx);

		snprintf(why, whylen, "%s (depth %d)", X509_verify_cert_error_string(e),
		    X509_STORE_CTX_get_error_depth(ctx));
		rc = 0;
		goto out;
	}
	{
		STACK_OF(X509) *ch = X509_STORE_CTX_get0_chain(ctx);

		*n_path_r = 0;
		for (int k = 0; k < sk_X509_num(ch) && k < DP_MAX_CERTS; k++)
			path_r[(*n_path_r)++] = index_of(scn, os, sk_X509_value(ch, k));
	}
	rc = 1;
out:
	X509_STORE_CTX_free(ctx);
	SSL_free(ssl);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	return rc;
}

/*
 * Project rules on the anchor of a path OpenSSL validated (README "Trust
 * anchors"): the store root, or a *sent* certificate a usage 2 record
 * names, valid at receipt time and (v3) cA=TRUE.  OpenSSL also anchors on
 * the certificate or bare key of a full "2 0 0"/"2 1 0" record that was
 * not sent (RFC 7671 5.2.2), and does not check the dates or
 * basicConstraints of a DANE-TA anchor that is not self-issued.  0 ok,
 * -1 with why.  DP_OPENSSL_TA_RULES=1 leaves OpenSSL's way.
 */
static int
anchor_rules(const struct dp_scn *scn, const struct dp_mat *os, const int *path, int n_path,
    char *why, size_t whylen)
{
	int top = path[n_path - 1];
	uint32_t fl;

	if (getenv("DP_OPENSSL_TA_RULES") != NULL)
		return 0;
	for (int k = 1; k < n_path; k++) {
		int sent = path[k] == 0 && k == n_path - 1;

		for (int i = 0; i < scn->n_sent && !sent; i++)
			sent = scn->sent[i] == path[k];
		if (path[k] < 0 || !sent) {
			snprintf(why, whylen, "path certificate %d was not sent (from a TLSA record)", path[k]);
			return -1;
		}
	}
	if (top == 0)
		return 0;
	if (n_path < 2 || !record_matches(scn, os, 2, top)) {
		snprintf(why, whylen, "path ends at %d, signed by a bare DANE-TA key that was not sent", top);
		return -1;
	}
	fl = X509_get_extension_flags(os->x[top]);
	if (!valid_at(os->x[top], scn->now) || !(fl & EXFLAG_BCONS) || !(fl & EXFLAG_CA)) {
		snprintf(why, whylen, "DANE-TA anchor %d outside its validity or without cA=TRUE", top);
		return -1;
	}
	return 0;
}

static void
openssl(const struct dp_scn *scn, const struct dp_mat *real, const struct dp_mat *os,
    struct dp_result *r)
{
	X509 *leaf = os->x[scn->leaf];
	unsigned drop = 0;
	int group[DP_MAX_SENT], n_combo = 1, tried = 0, ta_runs = 1;
	char why[200] = "", ncwhy[300] = "";

	r->ossl_pass = 0;
	if (!X509_check_host(leaf, scn->d, 0, HOSTFLAGS, NULL) && !leaf_has_srvname(leaf, scn->f)) {
		snprintf(r->ossl_why, sizeof(r->ossl_why), "name: neither %s nor _smtpsec.%s",
		    scn->d, scn->f);
		return;
	}
	if (dane_ctx == NULL) {
		dane_ctx = SSL_CTX_new(TLS_client_method());
		if (dane_ctx == NULL || SSL_CTX_dane_enable(dane_ctx) <= 0)
			goto harness;
		/* RFC 7671 9 (digest agility, a SHOULD): OpenSSL ignores the
		 * SHA-256 records of a usage and selector that also has SHA-512
		 * ones; vfy_dane takes every record.  Equal ordinals turn it
		 * off; DP_OPENSSL_AGILITY=1 keeps OpenSSL's way. */
		if (getenv("DP_OPENSSL_AGILITY") == NULL &&
		    SSL_CTX_dane_mtype_set(dane_ctx, EVP_sha512(), 2, 1) <= 0)
			goto harness;
	}
	if (scn->n_tlsa > 0 && record_matches(scn, os, 3, scn->leaf)) {
		int usable = 0;

		/* DANE-EE: no PKIX in either (OpenSSL checks only the name,
		 * done above); confirm OpenSSL takes the record */
		for (int i = 0; i < scn->n_tlsa; i++)
			usable += scn->t[i].usage == 3;
		if (usable) {
			int path[DP_MAX_CERTS], n_path, rc = ossl_run(scn, os, 0, 0, path, &n_path,
			    why, sizeof(why));

			if (rc < 0)
				goto harness;
			r->ossl_pass = rc;
			snprintf(r->ossl_why, sizeof(r->ossl_why), "%s: dane-ee%s%s",
			    rc ? "pass" : "fail", rc ? "" : ": ", rc ? "" : why);
			return;
		}
	}
	/* OpenSSL takes the first fitting issuer of a name and does not
	 * backtrack; SMTPSEC.md 4 step 8 builds the path from the sent
	 * certificates whatever their order.  Try every choice of one
	 * certificate per subject name. */
	for (int i = 0; i < scn->n_sent; i++) {
		group[i] = i;
		for (int k = 0; k < i; k++)
			if (group[k] == k && !(drop & (1u << k)) && !(drop & (1u << i)) &&
			    X509_NAME_cmp(X509_get_subject_name(os->x[scn->sent[k]]),
			    X509_get_subject_name(os->x[scn->sent[i]])) == 0) {
				group[i] = k;
				break;
			}
	}
	for (int i = 0; i < scn->n_sent; i++) {
		int size = 0;

		for (int k = 0; k < scn->n_sent; k++)
			size += group[k] == i;
		if (size > 1)
			n_combo *= size;
	}
	/* A sent root that is also in the store is taken from the store
	 * (trusted first), where OpenSSL does not match DANE-TA records; ours
	 * anchors on the sent copy (RFC 7671 5.2.2).  With usage 2 records,
	 * every choice is tried once more without the store. */
	for (int i = 0; i < scn->n_tlsa; i++)
		if (scn->t[i].usage == 2)
			ta_runs = 2;
	for (int run = 0; run < n_combo * ta_runs && run < 512; run++) {
		int combo = run / ta_runs, no_store = run % ta_runs;
		unsigned d = drop;
		int c = combo, path[DP_MAX_CERTS], n_path = 0, rc, bad = 0;
		char pathbuf[64] = "";

		/* combo picks, per group of size > 1, the member to keep */
		for (int i = 0; i < scn->n_sent; i++) {
			int size = 0, keep, seen = 0;

			for (int k = 0; k < scn->n_sent; k++)
				size += group[k] == i;
			if (size < 2)
				continue;
			keep = c % size;
			c /= size;
			for (int k = 0; k < scn->n_sent; k++)
				if (group[k] == i && seen++ != keep)
					d |= 1u << k;
		}
		rc = ossl_run(scn, os, d, no_store, path, &n_path, why, sizeof(why));
		tried++;
		if (rc < 0)
			goto harness;
		if (rc == 0)
			continue;
		for (int k = 0; k < n_path; k++) {
			size_t pl = strlen(pathbuf);

			snprintf(pathbuf + pl, sizeof(pathbuf) - pl, "%s%d", k ? "," : "", path[k]);
		}
		if (anchor_rules(scn, os, path, n_path, ncwhy, sizeof(ncwhy)) < 0)
			continue;
		for (int k = 1; k < n_path && !bad; k++) {
			char w[200];

			if (path[k] >= 0 && extra_nc(real->x[path[k]], real->x[scn->leaf], w, sizeof(w)) < 0) {
				snprintf(ncwhy, sizeof(ncwhy), "OpenSSL path [%s] ok, but under CA %d: %s",
				    pathbuf, path[k], w);
				bad = 1;
			}
		}
		if (bad)
			continue;
		r->ossl_pass = 1;
		snprintf(r->ossl_why, sizeof(r->ossl_why), "pass: path [%s]%s%s (path choice %d of %d)",
		    pathbuf, scn->n_tlsa ? " with DANE" : "", no_store ? ", no store" : "",
		    combo + 1, n_combo);
		return;
	}
	snprintf(r->ossl_why, sizeof(r->ossl_why), "fail: %s%s(%d path choices)",
	    ncwhy[0] ? ncwhy : why, ncwhy[0] && why[0] ? "; " : " ", tried);
	return;
harness:
	snprintf(r->ossl_why, sizeof(r->ossl_why), "harness: OpenSSL set-up failed");
	r->skipped = -1;
}

/* ---- comparison and report ------------------------------------------------------ */

static void
print_scn(FILE *out, const struct dp_scn *scn, const struct dp_mat *m, const struct dp_result *r)
{
	static const char *const shapes[DP_SHAPE_COUNT] = {
		"random", "u0-appended", "nc-above", "shuffled", "u0-root",
	};

	fprintf(out, "--- scenario (shape %s) D=%s F=%s now=%lld\n    tags:",
	    shapes[scn->shape], scn->d, scn->f, (long long)scn->now);
	for (int t = 0; t < DP_T_COUNT; t++)
		if (scn->tag[t])
			fprintf(out, " %s", dp_tag_name((enum dp_tag)t));
	fprintf(out, "\n");
	for (int i = 0; i < scn->n; i++) {
		const struct dp_cspec *c = &scn->c[i];

		fprintf(out, "    [%d]%s CN=\"%s\" parent=%d key=%d%s sign_key=%d akid_key=%d "
		    "bc=%d pathlen=%d ku=%d eku=%d nb=now%+lld na=now%+lld\n", i,
		    i == 0 ? " (store)" : i == scn->leaf ? " (leaf)" : "", c->cn, c->parent,
		    c->key, c->key < 8 ? "(P-256)" : "(Ed25519)", c->sign_key, c->akid_key,
		    c->bc, c->pathlen, c->ku, c->eku,
		    (long long)(c->nb - scn->now), (long long)(c->na - scn->now));
		for (int k = 0; k < c->n_pdns; k++)
			fprintf(out, "        permitted dNSName %s\n", c->pdns[k]);
		for (int k = 0; k < c->n_xdns; k++)
			fprintf(out, "        excluded dNSName %s\n", c->xdns[k]);
		for (int k = 0; k < c->n_psrv; k++)
			fprintf(out, "        permitted SRVName %s\n", c->psrv[k]);
		for (int k = 0; k < c->n_xsrv; k++)
			fprintf(out, "        excluded SRVName %s\n", c->xsrv[k]);
		for (int k = 0; k < c->n_dns; k++)
			fprintf(out, "        SAN dNSName %s\n", c->dns[k]);
		for (int k = 0; k < c->n_srv; k++)
			fprintf(out, "        SAN SRVName %s\n", c->srv[k]);
	}
	fprintf(out, "    sent: %d (leaf)", scn->leaf);
	for (int i = 0; i < scn->n_sent; i++)
		fprintf(out, ", %d", scn->sent[i]);
	fprintf(out, "\n");
	for (int i = 0; i < scn->n_tlsa; i++) {
		const struct dp_tspec *t = &scn->t[i];

		fprintf(out, "    TLSA %d %d %d naming %d%s: ", t->usage, t->selector, t->mtype,
		    t->target, t->bad_len ? " (digest cut short)" : "");
		for (size_t k = 0; k < m->tlsa_len[i] && k < 24; k++)
			fprintf(out, "%02x", m->tlsa_data[i][k]);
		fprintf(out, "%s\n", m->tlsa_len[i] > 24 ? "..." : "");
	}
	fprintf(out, "    ours:    %s\n    openssl: %s\n", r->ours_why, r->ossl_why);
	for (int i = 0; i < scn->n; i++) {
		fprintf(out, "    [%d]\n", i);
		PEM_write_X509(out, m->x[i]);
	}
	fprintf(out, "--- end\n");
}

int
dp_compare(const struct dp_scn *scn, struct dp_result *r, FILE *report)
{
	struct dp_mat real, os;
	int differ;

	memset(r, 0, sizeof(*r));
	if (dp_mat_build(scn, NULL, &real) < 0 || dp_mat_build(scn, &real, &os) < 0) {
		snprintf(r->ours_why, sizeof(r->ours_why), "harness: building certificates failed");
		dp_mat_free(&real);
		dp_mat_free(&os);
		return -1;
	}
	ours(scn, &real, r);
	openssl(scn, &real, &os, r);
	differ = r->skipped < 0 ? -1 : r->ours_pass != r->ossl_pass;
	if ((differ || getenv("DP_PRINT_ALL") != NULL) && report != NULL)
		print_scn(report, scn, &real, r);
	dp_mat_free(&real);
	dp_mat_free(&os);
	ERR_clear_error();
	return differ;
}
