/*
 * dp_gen: random DANE + PKIX scenarios for the differential oracle (dp.h),
 * drawn from a byte stream, and made into certificates with OpenSSL.
 *
 * A draw of 0 always means the plain choice, so a short fuzzer input
 * (padded with zeros) is a valid chain root <- CA <- leaf and the fuzzer
 * reaches the odd cases by setting bytes.  Keys come from a pool made
 * once (P-256 and Ed25519: cheap to sign with); distinct certificates get
 * distinct keys unless a scenario means them to share one (a renewed CA).
 */
#include "tests/diff/dp.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY		86400
#define NOW		1780272000	/* 2026-06-01T00:00:00Z */
#define POOL		16		/* 0-7 P-256, 8-15 Ed25519 */

/* ---- the byte source ---------------------------------------------------- */

void
dp_src_bytes(struct dp_src *s, const uint8_t *in, size_t len)
{
	memset(s, 0, sizeof(*s));
	s->in = in;
	s->in_len = len;
}

void
dp_src_seed(struct dp_src *s, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->state = seed * 0x9e3779b97f4a7c15ULL + 1;
}

static unsigned
u8(struct dp_src *s)
{
	unsigned b;

	if (s->in != NULL) {
		b = s->off < s->in_len ? s->in[s->off] : 0;
		s->off++;
	} else {
		/* splitmix64 */
		uint64_t z = (s->state += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		b = (unsigned)((z ^ (z >> 31)) & 0xff);
	}
	if (s->n_rec < sizeof(s->rec))
		s->rec[s->n_rec++] = (uint8_t)b;
	return b;
}

/* 0 .. n-1; 0 for a zero byte */
static int
pick(struct dp_src *s, int n)
{
	return (int)(u8(s) % (unsigned)n);
}

/* true with about pct percent; false for a zero byte */
static int
chance(struct dp_src *s, int pct)
{
	return (int)(u8(s) % 100) >= 100 - pct;
}

const char *
dp_tag_name(enum dp_tag t)
{
	static const char *const n[DP_T_COUNT] = {
		"plain", "shuffled", "extra-certs", "missing-cert", "root-sent",
		"sibling-issuer", "rekeyed-ca", "renewed-ca", "fake-root",
		"nc-dns", "nc-srvname", "nc-above-issuer", "nc-on-root",
		"san-wildcard", "srvname-only", "san-extra", "no-name",
		"tlsa-none", "tlsa-u0", "tlsa-u1", "tlsa-u2", "tlsa-u3",
		"tlsa-unusable", "tlsa-off-path",
		"expired", "not-yet-valid", "validity-boundary", "wrong-signer",
		"ca-false", "no-basic-constraints", "ku-no-certsign", "pathlen",
		"leaf-key-usage", "eku",
	};

	return (unsigned)t < DP_T_COUNT ? n[t] : "?";
}

/* ---- names ---------------------------------------------------------------- */

static const char *const nc_dns_pool[] = {
	"a.example", ".a.example", "mx.a.example", "example", "hoster.test",
	".hoster.test", "mx1.hoster.test", "evil.test", "b.example", "test",
};
static const char *const nc_srv_pool[] = {
	"_smtpsec.a.example", "a.example", "_smtpsec.example", "example",
	"_imap.a.example", "_smtpsec.evil.test", "evil.test", "_smtpsec.mx.a.example",
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- scenario ------------------------------------------------------------- */

static void
ca_defaults(struct dp_cspec *c, int parent, int key, int sign_key, const char *cn)
{
	memset(c, 0, sizeof(*c));
	c->parent = parent;
	c->key = key;
	c->sign_key = sign_key;
	c->akid_key = parent < 0 ? -1 : sign_key;
	snprintf(c->cn, sizeof(c->cn), "%s", cn);
	c->bc = 1;
	c->pathlen = -1;
	c->ku = DP_KU_KCS | DP_KU_CRL;
	c->nb = NOW - 365 * DAY;
	c->na = NOW + 365 * DAY;
}

static int
new_key(struct dp_src *s, unsigned *used)
{
	int k = pick(s, POOL);

	while (*used & (1u << k))
		k = (k + 1) % POOL;
	*used |= 1u << k;
	return k;
}

static int
on_path(const struct dp_scn *scn, int idx)
{
	for (int i = scn->c[scn->leaf].parent; i >= 0; i = scn->c[i].parent)
		if (i == idx)
			return 1;
	return 0;
}

/* Path CAs from the leaf's issuer up to (not including) the root. */
static int
path_cas(const struct dp_scn *scn, int *out)
{
	int n = 0;

	for (int i = scn->c[scn->leaf].parent; i > 0 && n < DP_MAX_CERTS; i = scn->c[i].parent)
		out[n++] = i;
	return n;
}

static void
add_nc(struct dp_src *s, struct dp_scn *scn, int ci, int above)
{
	struct dp_cspec *c = &scn->c[ci];
	int np = pick(s, 3), nx = pick(s, 2), nps = chance(s, 35), nxs = chance(s, 25);

	if (np + nx + nps + nxs == 0)
		np = 1;
	/* a CA can be drawn more than once: its lists are bounded */
	for (int i = 0; i < np && c->n_pdns < DP_MAX_NAMES; i++)
		c->pdns[c->n_pdns++] = nc_dns_pool[pick(s, NELEM(nc_dns_pool))];
	for (int i = 0; i < nx && c->n_xdns < DP_MAX_NAMES; i++)
		c->xdns[c->n_xdns++] = nc_dns_pool[pick(s, NELEM(nc_dns_pool))];
	if (nps && c->n_psrv < DP_MAX_NAMES)
		c->psrv[c->n_psrv++] = nc_srv_pool[pick(s, NELEM(nc_srv_pool))];
	if (nxs && c->n_xsrv < DP_MAX_NAMES)
		c->xsrv[c->n_xsrv++] = nc_srv_pool[pick(s, NELEM(nc_srv_pool))];
	if (c->n_pdns + c->n_xdns)
		scn->tag[DP_T_NC_DNS] = 1;
	if (c->n_psrv + c->n_xsrv)
		scn->tag[DP_T_NC_SRV] = 1;
	if (ci == 0)
		scn->tag[DP_T_NC_ROOT] = 1;
	else if (above)
		scn->tag[DP_T_NC_ABOVE] = 1;
}

static void
leaf_names(struct dp_src *s, struct dp_scn *scn, struct dp_cspec *l)
{
	char *up = scn->buf[0], *wild = scn->buf[1];
	const char *d = scn->d, *dot = strchr(d, '.');
	int dns_mode = pick(s, 16), srv;

	if (scn->shape != DP_SHAPE_RANDOM)
		dns_mode = 0;
	for (size_t i = 0; i <= strlen(d) && i < sizeof(scn->buf[0]); i++)
		up[i] = (char)(i % 3 == 0 && d[i] >= 'a' && d[i] <= 'z' ? d[i] - 32 : d[i]);
	snprintf(wild, sizeof(scn->buf[1]), "*%s", dot);
	switch (dns_mode) {
	case 8: case 9:
		l->dns[l->n_dns++] = wild;
		scn->tag[DP_T_SAN_WILD] = 1;
		break;
	case 10:
		l->dns[l->n_dns++] = up;
		break;
	case 11:	/* bound by SRVName only, if at all */
		break;
	case 12:
		l->dns[l->n_dns++] = "mx.evil.test";
		break;
	case 13:	/* partial wildcard and a too-broad one */
		l->dns[l->n_dns++] = strcmp(d, "mx.a.example") == 0 ? "m*.a.example" : "mx*.hoster.test";
		l->dns[l->n_dns++] = strcmp(d, "mx.a.example") == 0 ? "*.example" : "*.test";
		scn->tag[DP_T_SAN_WILD] = 1;
		break;
	case 14:
		l->dns[l->n_dns++] = "a.example";
		break;
	default:
		l->dns[l->n_dns++] = d;
		break;
	}
	srv = dns_mode == 11 ? 1 + pick(s, 5) : chance(s, 30) ? 1 + pick(s, 5) : 0;
	switch (srv) {
	case 1: case 2:
		l->srv[l->n_srv++] = "_smtpsec.a.example";
		break;
	case 3:
		l->srv[l->n_srv++] = "_SMTPSEC.A.example";
		break;
	case 4:
		l->srv[l->n_srv++] = "_imap.a.example";
		break;
	case 5:
		l->srv[l->n_srv++] = "_smtpsec.mx.a.example";
		break;
	}
	if (chance(s, 15)) {
		static const char *const extra[] = { "www.a.example", "mx.evil.test", "b.example" };

		if (l->n_srv && chance(s, 50))
			l->srv[l->n_srv++] = "_smtpsec.evil.test";
		else
			l->dns[l->n_dns++] = extra[pick(s, NELEM(extra))];
		scn->tag[DP_T_SAN_EXTRA] = 1;
	}
}

/* Names as step 6 sees them (our own reading, for the tags only). */
static int
lc_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

static void
tag_binding(struct dp_scn *scn)
{
	const struct dp_cspec *l = &scn->c[scn->leaf];
	int dns = 0, srv = 0;
	char want[80];

	snprintf(want, sizeof(want), "_smtpsec.%s", scn->f);
	for (int i = 0; i < l->n_dns; i++) {
		const char *p = l->dns[i], *dot = strchr(scn->d, '.');

		if (lc_eq(p, scn->d) || (p[0] == '*' && p[1] == '.' && lc_eq(p + 1, dot) &&
		    strchr(p + 2, '.') != NULL))
			dns = 1;
	}
	for (int i = 0; i < l->n_srv; i++)
		if (lc_eq(l->srv[i], want))
			srv = 1;
	if (!dns && srv)
		scn->tag[DP_T_SRV_ONLY] = 1;
	if (!dns && !srv)
		scn->tag[DP_T_NO_NAME] = 1;
}

static void
shuffle(struct dp_src *s, int *a, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = pick(s, i + 1), t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
}

static void
gen_tlsa(struct dp_src *s, struct dp_scn *scn)
{
	int cas[DP_MAX_CERTS], ncas = path_cas(scn, cas);
	int r = pick(s, 20);

	scn->n_tlsa = r < 8 ? 0 : r < 15 ? 1 : r < 18 ? 2 : 3;
	for (int i = 0; i < scn->n_tlsa; i++) {
		struct dp_tspec *t = &scn->t[i];
		int w = pick(s, 20);

		t->usage = pick(s, 4);
		t->selector = pick(s, 2);
		t->mtype = (pick(s, 3) + 1) % 3;	/* digests first */
		if (t->usage == 1 || t->usage == 3)
			t->target = w < 14 ? scn->leaf : w < 18 ? (ncas ? cas[0] : 0) : -1;
		else if (w < 10 && ncas)
			t->target = cas[pick(s, ncas)];
		else if (w < 14)
			t->target = 0;
		else if (w < 18)
			t->target = pick(s, scn->n);
		else
			t->target = -1;
		if (chance(s, 5)) {
			switch (pick(s, 4)) {
			case 0: t->usage = 4 + pick(s, 252); break;
			case 1: t->selector = 2; break;
			case 2: t->mtype = 3 + pick(s, 250); break;
			default: t->bad_len = 1; t->mtype = 1 + pick(s, 2); break;
			}
		}
	}
}

static void
finish_tlsa(struct dp_scn *scn)
{
	if (scn->n_tlsa == 0)
		scn->tag[DP_T_TLSA_NONE] = 1;
	for (int i = 0; i < scn->n_tlsa; i++) {
		struct dp_tspec *t = &scn->t[i];
		int sent = t->target == scn->leaf;

		for (int k = 0; k < scn->n_sent; k++)
			if (scn->sent[k] == t->target)
				sent = 1;
		/* Project rule (SMTPSEC.md 4 step 7): a DANE-TA anchor is a sent
		 * certificate.  OpenSSL also takes a full "2 0 0"/"2 1 0"
		 * record as an anchor that was not sent (RFC 7671 5.2.2); keep
		 * those records to certificates that were sent. */
		if (t->usage == 2 && t->mtype == 0 && !sent)
			t->mtype = 1;
		if (t->target < 0 && t->mtype == 0)
			t->mtype = 1;
		if (t->usage > 3 || t->selector > 1 || t->mtype > 2 || t->bad_len) {
			scn->tag[DP_T_TLSA_UNUSABLE] = 1;
			continue;
		}
		scn->tag[DP_T_TLSA_U0 + t->usage] = 1;
		if (t->target < 0 || (t->target != scn->leaf && !on_path(scn, t->target)))
			scn->tag[DP_T_TLSA_OFFPATH] = 1;
	}
}

void
dp_gen(struct dp_src *s, int shape, struct dp_scn *scn)
{
	unsigned used = 0;
	int depth, n_extra, ncas, cas[DP_MAX_CERTS], leaf_parent, b;
	struct dp_cspec *l;
	char cn[64];

	memset(scn, 0, sizeof(*scn));
	b = (int)u8(s);
	if (shape < 0)
		shape = b < 200 ? DP_SHAPE_RANDOM : 1 + b % (DP_SHAPE_COUNT - 1);
	scn->shape = (enum dp_shape)shape;
	scn->now = NOW;
	scn->f = "a.example";
	scn->d = chance(s, 40) ? "mx1.hoster.test" : "mx.a.example";
	for (size_t i = 0; i < sizeof(scn->nonce); i++)
		scn->nonce[i] = (uint8_t)u8(s);

	/* root (the store) and the main path */
	{
		int k = new_key(s, &used);

		ca_defaults(&scn->c[0], -1, k, k, "Diff Root");
		scn->c[0].nb = NOW - 3650 * DAY;
		scn->c[0].na = NOW + 3650 * DAY;
	}
	depth = 1 + pick(s, 4);
	if (shape == DP_SHAPE_NC_ABOVE || shape == DP_SHAPE_SHUFFLED)
		depth = 2 + pick(s, 3);
	scn->n = 1;
	for (int i = 1; i <= depth; i++) {
		snprintf(cn, sizeof(cn), "Diff CA %d", i);
		ca_defaults(&scn->c[scn->n], i - 1, new_key(s, &used), scn->c[i - 1].key, cn);
		scn->n++;
	}
	leaf_parent = depth;

	/* other CAs: siblings, a rekeyed or renewed copy, a fake root */
	n_extra = shape == DP_SHAPE_RANDOM ? (chance(s, 40) ? 1 + pick(s, 3) : 0) : 0;
	if (shape == DP_SHAPE_U0_APPENDED)
		n_extra = 1;
	for (int e = 0; e < n_extra && scn->n < DP_MAX_CERTS - 1; e++) {
		int kind = shape == DP_SHAPE_U0_APPENDED ? 0 : pick(s, 5);
		int j = 1 + pick(s, depth), i = scn->n;
		struct dp_cspec *c = &scn->c[i];

		switch (kind) {
		case 0:		/* sibling of a path CA */
			if (shape == DP_SHAPE_U0_APPENDED)
				j = depth;
			snprintf(cn, sizeof(cn), "Diff CA %dx%d", j, i);
			ca_defaults(c, scn->c[j].parent, new_key(s, &used),
			    scn->c[scn->c[j].parent].key, cn);
			scn->tag[DP_T_SIBLING] = 1;
			if (shape == DP_SHAPE_RANDOM && j == depth && chance(s, 40))
				leaf_parent = i;
			break;
		case 1:		/* same name, new key */
			memcpy(cn, scn->c[j].cn, sizeof(cn));
			ca_defaults(c, scn->c[j].parent, new_key(s, &used), scn->c[j].sign_key, cn);
			scn->tag[DP_T_REKEY] = 1;
			if (j == depth && chance(s, 50))
				leaf_parent = i;
			break;
		case 2:		/* same name and key, other validity */
			*c = scn->c[j];
			c->n_pdns = c->n_xdns = c->n_psrv = c->n_xsrv = 0;
			if (chance(s, 60)) {
				c->na = NOW - DAY;
				scn->tag[DP_T_EXPIRED] = 1;
			} else {
				c->nb = NOW - 10 * DAY;
			}
			scn->tag[DP_T_RENEWED] = 1;
			break;
		case 3:		/* a self-signed root of the same name, not in the store */
			{
				int k = new_key(s, &used);

				ca_defaults(c, -1, k, k, "Diff Root");
				scn->tag[DP_T_FAKE_ROOT] = 1;
				/* the top path CA is issued by it instead */
				if (chance(s, 50)) {
					scn->c[1].sign_key = k;
					scn->c[1].akid_key = k;
				}
			}
			break;
		default:	/* unrelated CA under the root */
			snprintf(cn, sizeof(cn), "Diff Other %d", i);
			ca_defaults(c, 0, new_key(s, &used), scn->c[0].key, cn);
			break;
		}
		scn->n++;
	}
	if (shape == DP_SHAPE_U0_APPENDED)
		leaf_parent = depth;	/* Y; the sibling X is appended */

	/* the leaf */
	scn->leaf = scn->n++;
	l = &scn->c[scn->leaf];
	memset(l, 0, sizeof(*l));
	l->parent = leaf_parent;
	l->key = new_key(s, &used);
	l->sign_key = scn->c[leaf_parent].key;
	l->akid_key = l->sign_key;
	{
		static const char *const cns[] = { "Diff Leaf", "mx.evil.test", "_smtpsec.a.example", NULL };
		int k = pick(s, 4);

		snprintf(l->cn, sizeof(l->cn), "%s", cns[k] ? cns[k] : scn->d);
	}
	l->bc = pick(s, 4) == 3 ? 2 : 0;
	l->pathlen = -1;
	l->nb = NOW - 30 * DAY;
	l->na = NOW + 60 * DAY;
	switch (pick(s, 16)) {
	case 3: case 4: case 5: case 6: case 7: l->ku = DP_KU_DS; break;
	case 8: case 9: l->ku = DP_KU_DS | DP_KU_KE; break;
	case 10: l->ku = DP_KU_KCS; scn->tag[DP_T_LEAF_KU] = 1; break;
	default: l->ku = -1; break;
	}
	l->eku = chance(s, 25) ? 1 + pick(s, 3) : 0;
	if (l->eku == 2)
		scn->tag[DP_T_EKU] = 1;
	leaf_names(s, scn, l);
	tag_binding(scn);

	/* defects on the path (random shape only) */
	ncas = path_cas(scn, cas);
	if (shape == DP_SHAPE_RANDOM) {
		int nd = chance(s, 45) ? 1 + pick(s, 2) : 0;

		for (int d = 0; d < nd; d++) {
			int who = pick(s, ncas + 2);	/* a path CA, the leaf or the root */
			int ci = who < ncas ? cas[who] : who == ncas ? scn->leaf : 0;
			struct dp_cspec *c = &scn->c[ci];

			switch (pick(s, 9)) {
			case 0:
				c->na = chance(s, 30) ? NOW - 1 : NOW - DAY;
				scn->tag[DP_T_EXPIRED] = 1;
				break;
			case 1:
				c->nb = chance(s, 30) ? NOW + 1 : NOW + DAY;
				scn->tag[DP_T_NOTYET] = 1;
				break;
			case 2:	/* inclusive bounds (RFC 5280 4.1.2.5) */
				c->nb = NOW;
				scn->tag[DP_T_BOUNDARY] = 1;
				break;
			case 3:
				if (ci == 0)
					break;
				{
					int k = new_key(s, &used);

					c->sign_key = k;
					c->akid_key = chance(s, 50) ? k : scn->c[c->parent].key;
					scn->tag[DP_T_WRONG_SIG] = 1;
				}
				break;
			case 4:
				if (ci == 0 || ci == scn->leaf)
					break;
				c->bc = chance(s, 50) ? 2 : 0;
				scn->tag[c->bc == 2 ? DP_T_CA_FALSE : DP_T_NO_BC] = 1;
				break;
			case 5:
				if (ci == scn->leaf)
					break;
				c->ku = chance(s, 50) ? (DP_KU_DS | DP_KU_CRL) : -1;
				if (c->ku != -1)
					scn->tag[DP_T_KU_NO_CERTSIGN] = 1;
				break;
			case 6:
				if (ci == scn->leaf)
					break;
				c->pathlen = pick(s, 3);
				scn->tag[DP_T_PATHLEN] = 1;
				break;
			case 7:
				if (ci == 0 || ci == scn->leaf)
					break;
				c->eku = 1 + pick(s, 3);
				scn->tag[DP_T_EKU] = 1;
				break;
			default:
				if (ci == scn->leaf)
					break;
				add_nc(s, scn, ci, ncas && ci != cas[0]);
				break;
			}
		}
	}
	if (shape == DP_SHAPE_NC_ABOVE) {
		int up = 1 + pick(s, ncas - 1);	/* above the issuer cas[0] */

		add_nc(s, scn, cas[up < ncas ? up : ncas - 1], 1);
	} else if (shape == DP_SHAPE_RANDOM && chance(s, 10)) {
		add_nc(s, scn, chance(s, 30) ? 0 : cas[pick(s, ncas)], 1);
	}

	/* what the sender sends after the leaf */
	for (int i = 0; i < ncas && scn->n_sent < DP_MAX_SENT; i++)
		scn->sent[scn->n_sent++] = cas[i];
	if (shape == DP_SHAPE_RANDOM) {
		if (ncas > 0 && chance(s, 8)) {
			int k = pick(s, scn->n_sent);

			memmove(&scn->sent[k], &scn->sent[k + 1],
			    (size_t)(scn->n_sent - k - 1) * sizeof(int));
			scn->n_sent--;
			scn->tag[DP_T_MISSING] = 1;
		}
		for (int i = 1; i < scn->leaf; i++) {
			if (on_path(scn, i) || scn->n_sent == DP_MAX_SENT)
				continue;
			if (chance(s, 60)) {
				scn->sent[scn->n_sent++] = i;
				scn->tag[DP_T_EXTRA] = 1;
			}
		}
		if (chance(s, 10) && scn->n_sent < DP_MAX_SENT) {
			scn->sent[scn->n_sent++] = 0;
			scn->tag[DP_T_ROOT_SENT] = 1;
		}
		if (chance(s, 25) && scn->n_sent > 1) {
			shuffle(s, scn->sent, scn->n_sent);
			scn->tag[DP_T_SHUFFLED] = 1;
		}
	} else if (shape == DP_SHAPE_U0_APPENDED) {
		scn->sent[scn->n_sent++] = depth + 1;	/* X, the sibling */
		scn->tag[DP_T_EXTRA] = 1;
	} else if (shape == DP_SHAPE_SHUFFLED) {
		int first = scn->sent[0];

		for (int tries = 0; tries < 8 && scn->sent[0] == first; tries++)
			shuffle(s, scn->sent, scn->n_sent);
		if (scn->sent[0] == first) {
			scn->sent[0] = scn->sent[1];
			scn->sent[1] = first;
		}
		scn->tag[DP_T_SHUFFLED] = 1;
	}

	/* TLSA */
	switch (shape) {
	case DP_SHAPE_U0_APPENDED:
		scn->n_tlsa = 1;
		scn->t[0] = (struct dp_tspec){ 0, pick(s, 2), 1 + pick(s, 2), depth + 1, 0 };
		if (chance(s, 30))	/* and one naming Y, on the path */
			scn->t[scn->n_tlsa++] = (struct dp_tspec){ 0, 1, 1, depth, 0 };
		break;
	case DP_SHAPE_U0_ROOT:
		scn->n_tlsa = 1;
		scn->t[0] = (struct dp_tspec){ 0, pick(s, 2), pick(s, 3), 0, 0 };
		break;
	case DP_SHAPE_RANDOM:
		gen_tlsa(s, scn);
		break;
	default:
		break;
	}
	finish_tlsa(scn);
	for (int t = 0; t < DP_T_COUNT; t++)
		if (scn->tag[t] && t != DP_T_TLSA_NONE)
			return;
	scn->tag[DP_T_PLAIN] = 1;
}

/* ---- certificates ---------------------------------------------------------- */

static EVP_PKEY *pool[POOL];

static void
pool_init(void)
{
	if (pool[0] != NULL)
		return;
	for (int i = 0; i < POOL; i++) {
		pool[i] = i < POOL / 2 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256") :
		    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (pool[i] == NULL) {
			fprintf(stderr, "dp_gen: key generation failed\n");
			abort();
		}
	}
}

/* SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2 method 1) */
static ASN1_OCTET_STRING *
key_id(int k)
{
	X509_PUBKEY *pk = NULL;
	const unsigned char *bits;
	int blen;
	unsigned char md[20];
	unsigned mdlen = 0;
	ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();

	if (o == NULL || !X509_PUBKEY_set(&pk, pool[k]) ||
	    !X509_PUBKEY_get0_param(NULL, &bits, &blen, NULL, pk) ||
	    !EVP_Digest(bits, (size_t)blen, md, &mdlen, EVP_sha1(), NULL) ||
	    !ASN1_OCTET_STRING_set(o, md, (int)mdlen)) {
		X509_PUBKEY_free(pk);
		ASN1_OCTET_STRING_free(o);
		return NULL;
	}
	X509_PUBKEY_free(pk);
	return o;
}

static int
add_conf(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
	X509V3_set_ctx_nodb(&ctx);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* append a, b and c to buf */
static void
app(char *buf, size_t len, const char *a, const char *b, const char *c)
{
	size_t n = strlen(buf);

	if (n < len)
		snprintf(buf + n, len - n, "%s%s%s", a, b, c);
}

static X509_NAME *
name_of(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	if (n == NULL ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"SMTPsec diff", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

static X509 *
make_cert(const struct dp_scn *scn, int i, int variant)
{
	const struct dp_cspec *c = &scn->c[i];
	const char *issuer_cn = c->parent < 0 ? c->cn : scn->c[c->parent].cn;
	X509 *x = X509_new();
	X509_NAME *sn = name_of(c->cn), *in = name_of(issuer_cn);
	char buf[2048];
	int ok;

	ok = x != NULL && sn != NULL && in != NULL &&
	    X509_set_version(x, 2) &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1000 + i) &&
	    X509_set_subject_name(x, sn) && X509_set_issuer_name(x, in) &&
	    ASN1_TIME_set(X509_getm_notBefore(x), c->nb) != NULL &&
	    ASN1_TIME_set(X509_getm_notAfter(x), c->na) != NULL &&
	    X509_set_pubkey(x, pool[c->key]);
	X509_NAME_free(sn);
	X509_NAME_free(in);
	if (!ok)
		goto fail;
	if (c->bc == 1) {
		if (c->pathlen >= 0)
			snprintf(buf, sizeof(buf), "critical,CA:TRUE,pathlen:%d", c->pathlen);
		else
			snprintf(buf, sizeof(buf), "critical,CA:TRUE");
		if (!add_conf(x, NID_basic_constraints, buf))
			goto fail;
	} else if (c->bc == 2 && !add_conf(x, NID_basic_constraints, "critical,CA:FALSE")) {
		goto fail;
	}
	if (c->ku >= 0) {
		snprintf(buf, sizeof(buf), "critical");
		if (c->ku & DP_KU_DS)
			app(buf, sizeof(buf), ",", "digitalSignature", "");
		if (c->ku & DP_KU_KE)
			app(buf, sizeof(buf), ",", "keyEncipherment", "");
		if (c->ku & DP_KU_KCS)
			app(buf, sizeof(buf), ",", "keyCertSign", "");
		if (c->ku & DP_KU_CRL)
			app(buf, sizeof(buf), ",", "cRLSign", "");
		if (!add_conf(x, NID_key_usage, buf))
			goto fail;
	}
	if (c->eku) {
		static const char *const e[] = { "", "serverAuth", "clientAuth", "serverAuth,clientAuth" };

		if (!add_conf(x, NID_ext_key_usage, e[c->eku & 3]))
			goto fail;
	}
	{
		ASN1_OCTET_STRING *sk = key_id(c->key);

		ok = sk != NULL && X509_add1_ext_i2d(x, NID_subject_key_identifier, sk, 0, X509V3_ADD_DEFAULT) == 1;
		ASN1_OCTET_STRING_free(sk);
		if (!ok)
			goto fail;
	}
	if (c->akid_key >= 0) {
		AUTHORITY_KEYID *ak = AUTHORITY_KEYID_new();

		ok = ak != NULL && (ak->keyid = key_id(c->akid_key)) != NULL &&
		    X509_add1_ext_i2d(x, NID_authority_key_identifier, ak, 0, X509V3_ADD_DEFAULT) == 1;
		AUTHORITY_KEYID_free(ak);
		if (!ok)
			goto fail;
	}
	if (c->n_pdns + c->n_xdns + (variant == 0 ? c->n_psrv + c->n_xsrv : 0) > 0) {
		snprintf(buf, sizeof(buf), "critical");
		for (int k = 0; k < c->n_pdns; k++)
			app(buf, sizeof(buf), ",permitted;DNS:", c->pdns[k], "");
		for (int k = 0; k < c->n_xdns; k++)
			app(buf, sizeof(buf), ",excluded;DNS:", c->xdns[k], "");
		for (int k = 0; variant == 0 && k < c->n_psrv; k++)
			app(buf, sizeof(buf), ",permitted;otherName:1.3.6.1.5.5.7.8.7;IA5STRING:", c->psrv[k], "");
		for (int k = 0; variant == 0 && k < c->n_xsrv; k++)
			app(buf, sizeof(buf), ",excluded;otherName:1.3.6.1.5.5.7.8.7;IA5STRING:", c->xsrv[k], "");
		if (!add_conf(x, NID_name_constraints, buf))
			goto fail;
	}
	if (c->n_dns + c->n_srv > 0) {
		buf[0] = '\0';
		for (int k = 0; k < c->n_dns; k++)
			app(buf, sizeof(buf), buf[0] ? "," : "", "DNS:", c->dns[k]);
		for (int k = 0; k < c->n_srv; k++)
			app(buf, sizeof(buf), buf[0] ? "," : "", "otherName:1.3.6.1.5.5.7.8.7;IA5STRING:", c->srv[k]);
		if (!add_conf(x, NID_subject_alt_name, buf))
			goto fail;
	}
	if (!X509_sign(x, pool[c->sign_key], c->sign_key < POOL / 2 ? EVP_sha256() : NULL))
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

static int
to_der(X509 *x, uint8_t **der_r, size_t *len_r, uint8_t **spki_r, size_t *spki_len_r)
{
	unsigned char *p = NULL;
	int n = i2d_X509(x, &p);

	if (n <= 0)
		return 0;
	*der_r = p;
	*len_r = (size_t)n;
	p = NULL;
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &p);
	if (n <= 0)
		return 0;
	*spki_r = p;
	*spki_len_r = (size_t)n;
	return 1;
}

static int
has_srv_nc(const struct dp_cspec *c)
{
	return c->n_psrv + c->n_xsrv > 0;
}

int
dp_mat_build(const struct dp_scn *scn, const struct dp_mat *base, struct dp_mat *m)
{
	int variant = base != NULL;

	pool_init();
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < scn->n; i++) {
		if (base != NULL && !has_srv_nc(&scn->c[i]) && X509_up_ref(base->x[i]))
			m->x[i] = base->x[i];
		else
			m->x[i] = make_cert(scn, i, variant);
		if (m->x[i] == NULL ||
		    !to_der(m->x[i], &m->der[i], &m->der_len[i], &m->spki[i], &m->spki_len[i]))
			return -1;
	}
	for (int r = 0; r < scn->n_tlsa; r++) {
		const struct dp_tspec *t = &scn->t[r];
		const uint8_t *p;
		size_t len;
		uint8_t nb[16];
		unsigned mdlen = 0;

		if (t->target >= 0) {
			p = t->selector == 1 ? m->spki[t->target] : m->der[t->target];
			len = t->selector == 1 ? m->spki_len[t->target] : m->der_len[t->target];
		} else {
			memcpy(nb, scn->nonce, 8);
			memset(nb + 8, r, 8);
			p = nb;
			len = sizeof(nb);
		}
		if (t->mtype == 0) {
			m->tlsa_full[r] = malloc(len ? len : 1);
			if (m->tlsa_full[r] == NULL)
				return -1;
			memcpy(m->tlsa_full[r], p, len);
			m->tlsa_data[r] = m->tlsa_full[r];
			m->tlsa_len[r] = len;
			continue;
		}
		if (!EVP_Digest(p, len, m->tlsa[r], &mdlen, t->mtype == 2 ? EVP_sha512() : EVP_sha256(), NULL))
			return -1;
		m->tlsa_data[r] = m->tlsa[r];
		m->tlsa_len[r] = mdlen - (t->bad_len ? 1 : 0);
	}
	return 0;
}

void
dp_mat_free(struct dp_mat *m)
{
	for (int i = 0; i < DP_MAX_CERTS; i++) {
		X509_free(m->x[i]);
		OPENSSL_free(m->der[i]);
		OPENSSL_free(m->spki[i]);
	}
	for (int r = 0; r < DP_MAX_TLSA; r++)
		free(m->tlsa_full[r]);
	memset(m, 0, sizeof(*m));
}
