/* vfy_nc: name constraints (RFC 5280 4.2.1.10, RFC 4985); see vfy_nc.h. */
#include "verify/vfy_nc.h"

#include <string.h>

#include "verify/vfy_der.h"

/* GeneralName tags (context-specific, as they appear in GeneralNames) */
#define GN_OTHER	VFY_DER_CTX_C(0)
#define GN_RFC822	VFY_DER_CTX(1)
#define GN_DNS		VFY_DER_CTX(2)
#define GN_DIR		VFY_DER_CTX_C(4)
#define GN_IP		VFY_DER_CTX(7)

/* Internal name forms */
enum form { F_DNS, F_SRV, F_IP, F_EMAIL, F_DIR, F_OTHER };

/* names x subtrees compared per call, at most (pathological inputs) */
#define NC_WORK_MAX	(1u << 20)

static const uint8_t oid_srvname[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x08, 0x07 };

static int
lc(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static int
ieq(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lc(a[i]) != lc(b[i]))
			return 0;
	return 1;
}

/* name ends with suffix (case-insensitive) */
static int
iends(const uint8_t *name, size_t nl, const uint8_t *suf, size_t sl)
{
	return nl >= sl && ieq(name + nl - sl, suf, sl);
}

int
vfy_nc_dns_within(const uint8_t *name, size_t nl, const uint8_t *c, size_t cl)
{
	if (nl > 0 && name[nl - 1] == '.')
		nl--;
	if (cl > 0 && c[cl - 1] == '.')	/* absolute form; "." is the root: all */
		cl--;
	if (cl == 0)
		return 1;
	if (c[0] == '.')	/* only names below it */
		return nl > cl && iends(name, nl, c, cl);
	if (nl == cl)
		return ieq(name, c, cl);
	return nl > cl && iends(name, nl, c, cl) && name[nl - cl - 1] == '.';
}

/* The domain itself or below, whether or not the constraint has a dot. */
static int
dns_domain_within(const uint8_t *name, size_t nl, const uint8_t *c, size_t cl)
{
	if (cl > 0 && c[0] == '.') {
		c++;
		cl--;
		if (cl == 0)
			return 1;
	}
	return vfy_nc_dns_within(name, nl, c, cl);
}

/* Could the wildcard name "*.Z" stand for a name within c? */
static int
wildcard_hits(const uint8_t *name, size_t nl, const uint8_t *c, size_t cl)
{
	const uint8_t *z;
	size_t zl;

	if (vfy_nc_dns_within(name, nl, c, cl))
		return 1;
	/* absolute forms: "*.bank.test." stands for the same names */
	if (nl > 0 && name[nl - 1] == '.')
		nl--;
	if (cl > 0 && c[cl - 1] == '.')
		cl--;
	z = name + 2;
	zl = nl - 2;
	if (cl > 0 && c[0] == '.') {	/* ".Z" or ".x.y.Z": "L.Z" below it */
		c++;
		cl--;
	}
	if (cl == 0)
		return 1;
	/* the constraint is below Z by exactly one label L */
	if (cl > zl + 1 && iends(c, cl, z, zl) && c[cl - zl - 1] == '.') {
		for (size_t i = 0; i < cl - zl - 1; i++)
			if (c[i] == '.')
				return 0;
		return 1;
	}
	return 0;
}

/* A dNSName as RFC 5280 4.2.1.6 allows it (plus a leading "*." label):
 * no empty label, nothing but letters, digits, '-', '_' and '.'. */
static int
dns_syntax_ok(const uint8_t *n, size_t l)
{
	size_t i = 0, label = 0;

	if (l > 2 && n[0] == '*' && n[1] == '.')
		i = 2;
	if (l > 1 && n[l - 1] == '.')
		l--;	/* absolute form */
	if (i >= l)
		return 0;
	for (; i < l; i++) {
		uint8_t ch = n[i];

		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

static int
is_wildcard(const uint8_t *n, size_t l)
{
	return l > 2 && n[0] == '*' && n[1] == '.';
}

/* Split "_service.name": service (with "_") and name. */
static int
srv_split(const uint8_t *s, size_t l, size_t *svc_len_r)
{
	if (l < 3 || s[0] != '_')
		return -1;
	for (size_t i = 1; i < l; i++)
		if (s[i] == '.') {
			if (i == 1 || i + 1 == l)
				return -1;
			*svc_len_r = i;
			return 0;
		}
	return -1;
}

int
vfy_nc_srv_within(const uint8_t *s, size_t sl, const uint8_t *c, size_t cl)
{
	size_t svc, csvc;

	if (srv_split(s, sl, &svc) < 0)
		return 0;
	if (cl > 0 && c[0] == '_') {
		if (srv_split(c, cl, &csvc) < 0 || csvc != svc || !ieq(s, c, svc))
			return 0;
		return vfy_nc_dns_within(s + svc + 1, sl - svc - 1, c + csvc + 1, cl - csvc - 1);
	}
	return vfy_nc_dns_within(s + svc + 1, sl - svc - 1, c, cl);
}

static int
ip_within(const uint8_t *a, size_t al, const uint8_t *c, size_t cl)
{
	if (cl != 2 * al)
		return 0;
	for (size_t i = 0; i < al; i++)
		if ((a[i] & c[al + i]) != (c[i] & c[al + i]))
			return 0;
	return 1;
}

static int
email_within(const uint8_t *n, size_t nl, const uint8_t *c, size_t cl)
{
	const uint8_t *at = NULL, *dom;
	size_t dl;

	for (size_t i = nl; i-- > 0;)
		if (n[i] == '@') {
			at = n + i;
			break;
		}
	if (at == NULL)
		return 0;
	dom = at + 1;
	dl = nl - (size_t)(dom - n);
	if (memchr(c, '@', cl) != NULL) {	/* a mailbox: local part exact */
		const uint8_t *cat = memchr(c, '@', cl);
		size_t cll = (size_t)(cat - c);

		return cll == (size_t)(at - n) && memcmp(c, n, cll) == 0 &&
		    cl - cll - 1 == dl && ieq(cat + 1, dom, dl);
	}
	if (cl > 0 && c[0] == '.')
		return dl > cl && iends(dom, dl, c, cl);
	return dl == cl && ieq(dom, c, cl);
}

/* The constraint's RDNs are a prefix of the name's (byte-equal RDNs). */
static int
dir_within(const uint8_t *n, size_t nl, const uint8_t *c, size_t cl)
{
	struct vfy_der dn = vfy_der_view(n, nl), dc = vfy_der_view(c, cl);
	struct vfy_der_tlv tn, tc;

	while (dc.len > 0) {
		if (vfy_der_next(&dc, &tc) < 0 || vfy_der_next(&dn, &tn) < 0)
			return 0;
		if (tc.raw_len != tn.raw_len || memcmp(tc.raw, tn.raw, tc.raw_len) != 0)
			return 0;
	}
	return 1;
}

struct name {
	enum form form;
	uint8_t tag;		/* GeneralName tag */
	const uint8_t *oid;	/* otherName type-id contents */
	size_t oid_len;
	const uint8_t *p;	/* dNSName/SRVName/rfc822 text, IP bytes, DN contents */
	size_t len;
};

#define NC_NAMES_MAX	256

/* A GeneralName as (form, value).  -1 malformed. */
static int
general_name(const struct vfy_der_tlv *g, struct name *n_r)
{
	struct vfy_der in;
	struct vfy_der_tlv oid, v, ia5, dn;

	n_r->p = g->val;
	n_r->len = g->len;
	n_r->tag = g->tag;
	n_r->oid = NULL;
	n_r->oid_len = 0;
	switch (g->tag) {
	case GN_DNS:
		n_r->form = F_DNS;
		return 0;
	case GN_RFC822:
		n_r->form = F_EMAIL;
		return 0;
	case GN_IP:
		n_r->form = F_IP;
		return 0;
	case GN_DIR:
		in = vfy_der_inner(g);
		if (vfy_der_expect(&in, VFY_DER_SEQUENCE, &dn) < 0 || in.len != 0)
			return -1;
		n_r->form = F_DIR;
		n_r->p = dn.val;
		n_r->len = dn.len;
		return 0;
	case GN_OTHER:
		in = vfy_der_inner(g);
		if (vfy_der_expect(&in, VFY_DER_OID, &oid) < 0 ||
		    vfy_der_expect(&in, VFY_DER_CTX_C(0), &v) < 0 || in.len != 0)
			return -1;
		n_r->oid = oid.val;
		n_r->oid_len = oid.len;
		if (!vfy_der_oid_eq(&oid, oid_srvname, sizeof(oid_srvname))) {
			n_r->form = F_OTHER;
			return 0;
		}
		in = vfy_der_inner(&v);
		if (vfy_der_expect(&in, VFY_DER_IA5STRING, &ia5) < 0 || in.len != 0)
			return -1;
		n_r->form = F_SRV;
		n_r->p = ia5.val;
		n_r->len = ia5.len;
		return 0;
	default:
		n_r->form = F_OTHER;
		return 0;
	}
}

/* One subtree base against one name: 1 within, 0 not, -1 malformed. */
static int
within(const struct name *n, const struct name *c, int for_excluded)
{
	switch (c->form) {
	case F_DNS:
		if (n->form == F_DNS) {
			if (!dns_syntax_ok(n->p, n->len))
				return for_excluded;	/* malformed name: fail closed */
			if (is_wildcard(n->p, n->len) && for_excluded)
				return wildcard_hits(n->p, n->len, c->p, c->len);
			/* excluded ".Z" also covers Z itself (the wider reading) */
			if (for_excluded)
				return dns_domain_within(n->p, n->len, c->p, c->len);
			return vfy_nc_dns_within(n->p, n->len, c->p, c->len);
		}
		if (n->form == F_SRV) {	/* project rule: the Name part */
			size_t svc;

			if (srv_split(n->p, n->len, &svc) < 0)
				return for_excluded;	/* unparsable: fail closed */
			return dns_domain_within(n->p + svc + 1, n->len - svc - 1, c->p, c->len);
		}
		return 0;
	case F_SRV:
		if (n->form != F_SRV)
			return 0;
		if (srv_split(n->p, n->len, &(size_t){ 0 }) < 0)
			return for_excluded;
		return vfy_nc_srv_within(n->p, n->len, c->p, c->len);
	case F_IP:
		if (c->len != 8 && c->len != 32)
			return -1;
		return n->form == F_IP && ip_within(n->p, n->len, c->p, c->len);
	case F_EMAIL:
		return n->form == F_EMAIL && email_within(n->p, n->len, c->p, c->len);
	case F_DIR:
		return n->form == F_DIR && dir_within(n->p, n->len, c->p, c->len);
	default:
		return 0;
	}
}

/* Does a subtree of form cf constrain names of form nf? */
static int
applies(enum form cf, enum form nf)
{
	return cf == nf || (cf == F_DNS && nf == F_SRV);
}

int
vfy_nc_check(const uint8_t *nc, size_t nc_len, int nc_critical,
    const struct vfy_cert *c, int skip_subject, const uint8_t *san, size_t san_len,
    const char **why_r)
{
	struct name local[NC_NAMES_MAX], *nm = local;
	size_t n_names = 0, max = sizeof(local) / sizeof(local[0]);
	struct vfy_der in = vfy_der_view(nc, nc_len), subs, gs;
	struct vfy_der_tlv part, st, base;
	unsigned long work = 0;
	int seen = 0;

	/* the names of the certificate */
	if (!skip_subject && c->subject_len > 2) {
		struct vfy_der s = vfy_der_view(c->subject, c->subject_len);
		struct vfy_der_tlv t;

		if (vfy_der_expect(&s, VFY_DER_SEQUENCE, &t) < 0) {
			*why_r = "malformed subject";
			return -1;
		}
		if (t.len > 0) {
			nm[n_names].form = F_DIR;
			nm[n_names].p = t.val;
			nm[n_names].len = t.len;
			n_names++;
		}
	}
	if (san != NULL) {
		struct vfy_der g = vfy_der_view(san, san_len);
		struct vfy_der_tlv t;

		while (g.len > 0) {
			if (vfy_der_next(&g, &t) < 0 || general_name(&t, &nm[n_names]) < 0) {
				*why_r = "malformed subjectAltName";
				return -1;
			}
			if (nm[n_names].form == F_IP && nm[n_names].len != 4 && nm[n_names].len != 16) {
				*why_r = "malformed iPAddress name";
				return -1;
			}
			if (++n_names == max) {
				*why_r = "too many names for name constraints";
				return -1;
			}
		}
	}

	/* NameConstraints ::= SEQUENCE { permitted [0], excluded [1] } */
	while (in.len > 0) {
		int excl;

		if (vfy_der_next(&in, &part) < 0 ||
		    (part.tag != VFY_DER_CTX_C(0) && part.tag != VFY_DER_CTX_C(1)) ||
		    (part.tag == VFY_DER_CTX_C(0) && seen) || (seen & 2)) {
			*why_r = "malformed name constraints";
			return -1;
		}
		excl = part.tag == VFY_DER_CTX_C(1);
		seen |= excl ? 2 : 1;
		subs = vfy_der_inner(&part);
		if (subs.len == 0) {
			*why_r = "malformed name constraints (empty subtrees)";
			return -1;
		}
		/* permitted: per form, a name needs one match among that form's
		 * subtrees; excluded: no match at all */
		for (size_t i = 0; i < n_names; i++) {
			int has_form = 0, ok = 0;

			gs = subs;
			while (gs.len > 0) {
				struct vfy_der sv;
				struct name cn;
				int w;

				if (vfy_der_expect(&gs, VFY_DER_SEQUENCE, &st) < 0) {
					*why_r = "malformed name constraints";
					return -1;
				}
				sv = vfy_der_inner(&st);
				if (vfy_der_next(&sv, &base) < 0 || general_name(&base, &cn) < 0) {
					*why_r = "malformed name constraints";
					return -1;
				}
				if (sv.len != 0) {
					*why_r = "name constraint with minimum or maximum";
					return -1;
				}
				if (cn.form == F_OTHER || nm[i].form == F_OTHER) {
					/* RFC 5280 4.2.1.10: a critical constraint on a form
					 * we do not process fails when the certificate has a
					 * name of that form */
					if (nc_critical && cn.form == F_OTHER && nm[i].form == F_OTHER &&
					    cn.tag == nm[i].tag && cn.oid_len == nm[i].oid_len &&
					    (cn.oid_len == 0 || memcmp(cn.oid, nm[i].oid, cn.oid_len) == 0)) {
						*why_r = "critical name constraints on a name form we do not process";
						return -1;
					}
					continue;
				}
				if (++work > NC_WORK_MAX) {
					*why_r = "name constraints too complex";
					return -1;
				}
				if (!applies(cn.form, nm[i].form))
					continue;
				/* an SRVName answers to its own form's permitted subtrees
				 * and, separately, to the dNSName ones */
				w = within(&nm[i], &cn, excl);
				if (w < 0) {
					*why_r = "malformed name constraint";
					return -1;
				}
				if (excl && w) {
					*why_r = nm[i].form == F_SRV ? "SRVName in an excluded subtree" :
					    nm[i].form == F_DNS ? "dNSName in an excluded subtree" :
					    "name in an excluded subtree";
					return -1;
				}
				if (!excl && cn.form == nm[i].form) {
					has_form |= 1;
					ok |= w ? 1 : 0;
				} else if (!excl) {	/* dNSName subtree, SRVName name */
					has_form |= 2;
					ok |= w ? 2 : 0;
				}
			}
			if (!excl && (has_form & ~ok)) {
				*why_r = nm[i].form == F_SRV ? "SRVName not in a permitted subtree" :
				    nm[i].form == F_DNS ? "dNSName not in a permitted subtree" :
				    nm[i].form == F_IP ? "iPAddress not in a permitted subtree" :
				    nm[i].form == F_EMAIL ? "rfc822Name not in a permitted subtree" :
				    "directoryName not in a permitted subtree";
				return -1;
			}
		}
	}
	if (seen == 0) {
		*why_r = "malformed name constraints (empty)";
		return -1;
	}
	*why_r = "";
	return 0;
}
