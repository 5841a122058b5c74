/*
 * vfy_from: RFC 5322 From-field parser.  See vfy_from.h.
 *
 * Strictness is deliberate: this decides whose DNS and certificate vouch for
 * a message, so where a mail reader might read a header differently from us
 * (bare CR or LF, NUL, "From :" with space before the colon, a From inside
 * an unfolded continuation), we either count it the way a lenient reader
 * would or refuse the message.  Nothing here allocates except libidn2's
 * result, freed before return.
 */
#include "verify/vfy_from.h"

#include <idn2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FROM_VALUE_MAX	(64 * 1024)

/* The fields named name (case-insensitive): how many, the first one's value. */
struct find {
	const char *name;
	int count;
	const uint8_t *val;
	size_t vlen;
};

/*
 * Walk the header section, counting the fields f names.  Fields end at CRLF
 * not followed by WSP.  Returns 0, or -1 when the section is malformed (bare
 * CR/LF, NUL, a line that is neither a field nor a continuation).
 */
static int
walk_headers(const uint8_t *m, size_t len, struct find *f, const char **why_r)
{
	size_t i = 0;

	while (i < len) {
		size_t start = i, colon = 0, nend, vstart, end;

		if (len - i >= 2 && m[i] == '\r' && m[i + 1] == '\n')
			return 0;		/* empty line: end of header section */
		if (m[i] == ' ' || m[i] == '\t') {
			*why_r = "header section starts with a continuation line";
			return -1;
		}
		/* field name up to ':' */
		while (i < len && m[i] != ':') {
			if (m[i] == '\r' || m[i] == '\n' || m[i] == 0 || m[i] >= 0x7f || m[i] < 0x20) {
				*why_r = "malformed header line";
				return -1;
			}
			i++;
		}
		if (i == len) {
			*why_r = "header line without a colon";
			return -1;
		}
		colon = i;
		nend = colon;
		/* obs-optional: WSP before the colon belongs to no name */
		while (nend > start && (m[nend - 1] == ' ' || m[nend - 1] == '\t'))
			nend--;
		if (nend == start) {
			*why_r = "empty header field name";
			return -1;
		}
		for (size_t k = start; k < nend; k++)
			if (m[k] == ' ' || m[k] == '\t') {
				*why_r = "space inside a header field name";
				return -1;
			}
		vstart = colon + 1;
		i = vstart;
		/* value: through CRLF not followed by WSP */
		for (;;) {
			if (i == len) {
				end = len;	/* last field, no final CRLF */
				break;
			}
			if (m[i] == 0) {
				*why_r = "NUL in header";
				return -1;
			}
			if (m[i] == '\n') {
				*why_r = "bare LF in header";
				return -1;
			}
			if (m[i] == '\r') {
				if (len - i < 2 || m[i + 1] != '\n') {
					*why_r = "bare CR in header";
					return -1;
				}
				if (len - i > 2 && (m[i + 2] == ' ' || m[i + 2] == '\t')) {
					i += 3;
					continue;
				}
				end = i;
				i += 2;
				break;
			}
			i++;
		}
		if (nend - start == strlen(f->name) &&
		    strncasecmp((const char *)m + start, f->name, nend - start) == 0 && f->count++ == 0) {
			f->val = m + vstart;
			f->vlen = end - vstart;
		}
	}
	return 0;
}

int
vfy_from_find_header(const uint8_t *msg, size_t len, const char *name,
    const uint8_t **value_r, size_t *value_len_r)
{
	struct find f = { name, 0, NULL, 0 };
	const char *why;

	if (walk_headers(msg, len, &f, &why) < 0)
		return -1;
	if (value_r)
		*value_r = f.val;
	if (value_len_r)
		*value_len_r = f.vlen;
	return f.count;
}

/* --- the mailbox grammar ------------------------------------------------- */

enum tok { T_END = 0, T_ATOM, T_QSTR, T_SPECIAL };

struct lex {
	const uint8_t *p;
	size_t len, pos;
	/* current token */
	enum tok t;
	size_t ts, tl;		/* token start/length in p (for QSTR: with quotes) */
	char sp;		/* the special char */
	const char *why;
};

static int
is_atext(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	if (c >= 0x80)
		return 1;	/* RFC 6532 UTF-8 */
	return strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL && c != 0;
}

/* Skip CFWS: spaces, tabs, folding CRLF, and nested comments. */
static int
skip_cfws(struct lex *x)
{
	while (x->pos < x->len) {
		uint8_t c = x->p[x->pos];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			x->pos++;	/* folding was validated by walk_headers */
		} else if (c == '(') {
			int depth = 0;

			do {
				if (x->pos >= x->len) {
					x->why = "unterminated comment";
					return -1;
				}
				c = x->p[x->pos];
				if (c == '\\') {
					if (x->len - x->pos < 2) {
						x->why = "dangling backslash in comment";
						return -1;
					}
					x->pos += 2;
					continue;
				}
				if (c == '(')
					depth++;
				else if (c == ')')
					depth--;
				x->pos++;
			} while (depth > 0);
		} else
			break;
	}
	return 0;
}

static int
next(struct lex *x)
{
	uint8_t c;

	if (skip_cfws(x) < 0)
		return -1;
	x->ts = x->pos;
	if (x->pos == x->len) {
		x->t = T_END;
		x->tl = 0;
		return 0;
	}
	c = x->p[x->pos];
	if (c == '"') {
		x->pos++;
		for (;;) {
			if (x->pos >= x->len) {
				x->why = "unterminated quoted string";
				return -1;
			}
			c = x->p[x->pos];
			if (c == '\\') {
				if (x->len - x->pos < 2) {
					x->why = "dangling backslash";
					return -1;
				}
				x->pos += 2;
				continue;
			}
			x->pos++;
			if (c == '"')
				break;
		}
		x->t = T_QSTR;
		x->tl = x->pos - x->ts;
		return 0;
	}
	if (is_atext(c)) {
		while (x->pos < x->len && is_atext(x->p[x->pos]))
			x->pos++;
		x->t = T_ATOM;
		x->tl = x->pos - x->ts;
		return 0;
	}
	if (strchr("<>@,;:.[]\\)", c) != NULL) {
		x->pos++;
		x->t = T_SPECIAL;
		x->sp = (char)c;
		x->tl = 1;
		return 0;
	}
	x->why = "unexpected character in From";
	return -1;
}

static int
is_sp(const struct lex *x, char c)
{
	return x->t == T_SPECIAL && x->sp == c;
}

struct spec {
	char local[VFY_FROM_ADDR_MAX];	/* words and dots, CFWS between them dropped */
	size_t ll;
	char domain[VFY_FROM_DOMAIN_MAX];
};

static int
local_add(struct lex *x, struct spec *s, const uint8_t *p, size_t n)
{
	if (s->ll + n >= 64 + 3) {	/* RFC 5321 4.5.3.1.1, plus quotes */
		x->why = "local part too long";
		return -1;
	}
	memcpy(s->local + s->ll, p, n);
	s->ll += n;
	s->local[s->ll] = '\0';
	return 0;
}

/* addr-spec = local-part "@" domain; x is on the first token. */
static int
parse_addr_spec(struct lex *x, struct spec *s)
{
	size_t dlen = 0;

	/* local-part: word *("." word), dot-atom being the usual case */
	if (x->t != T_ATOM && x->t != T_QSTR) {
		x->why = "missing local part";
		return -1;
	}
	s->ll = 0;
	for (;;) {
		if (local_add(x, s, x->p + x->ts, x->tl) < 0)
			return -1;
		if (next(x) < 0)
			return -1;
		if (!is_sp(x, '.'))
			break;
		if (local_add(x, s, (const uint8_t *)".", 1) < 0 || next(x) < 0)
			return -1;
		if (x->t != T_ATOM && x->t != T_QSTR) {
			x->why = "empty label in local part";
			return -1;
		}
	}
	if (!is_sp(x, '@')) {
		x->why = "no @ in address";
		return -1;
	}
	if (next(x) < 0)
		return -1;
	if (is_sp(x, '[')) {
		x->why = "domain literals are not accepted";
		return -1;
	}
	for (;;) {
		if (x->t != T_ATOM) {
			x->why = "bad domain";
			return -1;
		}
		if (dlen + x->tl + 2 > sizeof(s->domain)) {
			x->why = "domain too long";
			return -1;
		}
		memcpy(s->domain + dlen, x->p + x->ts, x->tl);
		dlen += x->tl;
		if (next(x) < 0)
			return -1;
		if (!is_sp(x, '.'))
			break;
		s->domain[dlen++] = '.';
		if (next(x) < 0)
			return -1;
	}
	s->domain[dlen] = '\0';
	return 0;
}

/* Lower-case A-label form, each label LDH and 1-63 bytes, >= 2 labels. */
static int
normalize_domain(const char *in, char *out, size_t outlen, const char **why_r)
{
	char *ascii = NULL;
	size_t i, label = 0, labels = 1, n;
	int non_ascii = 0, rc;

	for (i = 0; in[i]; i++)
		if ((unsigned char)in[i] >= 0x80)
			non_ascii = 1;
	if (non_ascii) {
		rc = idn2_to_ascii_8z(in, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		if (rc != IDN2_OK) {
			*why_r = "domain is not a valid internationalized name";
			return -1;
		}
		in = ascii;
	}
	n = strlen(in);
	*why_r = "domain length";
	if (n == 0 || n >= outlen || n > 253)
		goto bad;
	for (i = 0; i < n; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			*why_r = "bad domain label";
			if (label == 0 || in[i - 1] == '-')
				goto bad;
			label = 0;
			labels++;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
			*why_r = "domain label too long";
			if (++label > 63)
				goto bad;
		} else {
			*why_r = "domain has a character outside letters, digits and hyphen";
			goto bad;
		}
		out[i] = c;
	}
	out[n] = '\0';
	free(ascii);
	if (label == 0 || out[n - 1] == '-' || labels < 2) {
		*why_r = labels < 2 ? "single-label domain" : "bad domain label";
		return -1;
	}
	*why_r = "";
	return 0;
bad:
	free(ascii);
	return -1;
}

static int
parse_mailbox(const uint8_t *v, size_t vlen, struct vfy_from *f, const char **why_r)
{
	struct lex x = { v, vlen, 0, T_END, 0, 0, 0, "" };
	struct spec s;
	size_t ll;
	int angle = 0;

	/* Is there a '<' outside quoted strings and comments?  Then name-addr. */
	if (next(&x) < 0)
		goto bad;
	{
		struct lex scan = x;

		while (scan.t != T_END) {
			if (is_sp(&scan, '<'))
				angle = 1;
			if (is_sp(&scan, ','))
				break;
			if (next(&scan) < 0)
				break;
		}
	}
	if (angle) {
		/* display-name = phrase (obs-phrase allows "."), then <addr-spec> */
		while (x.t == T_ATOM || x.t == T_QSTR || is_sp(&x, '.'))
			if (next(&x) < 0)
				goto bad;
		if (is_sp(&x, ':')) {
			*why_r = "group syntax is not accepted";
			return -1;
		}
		if (!is_sp(&x, '<')) {
			*why_r = "unexpected token before <";
			return -1;
		}
		if (next(&x) < 0)
			goto bad;
		if (is_sp(&x, '@')) {
			*why_r = "source routes are not accepted";
			return -1;
		}
		if (parse_addr_spec(&x, &s) < 0)
			goto bad;
		if (!is_sp(&x, '>')) {
			*why_r = "missing > after address";
			return -1;
		}
		if (next(&x) < 0)
			goto bad;
	} else {
		/* a group without angle brackets: "undisclosed:;" */
		struct lex scan = x;
		while (scan.t != T_END) {
			if (is_sp(&scan, ':')) {
				*why_r = "group syntax is not accepted";
				return -1;
			}
			if (next(&scan) < 0)
				break;
		}
		if (parse_addr_spec(&x, &s) < 0)
			goto bad;
	}
	if (is_sp(&x, ',')) {
		*why_r = "more than one mailbox in From";
		return -1;
	}
	if (is_sp(&x, ':') || is_sp(&x, ';')) {
		*why_r = "group syntax is not accepted";
		return -1;
	}
	if (x.t != T_END) {
		*why_r = "trailing garbage after the address";
		return -1;
	}
	if (normalize_domain(s.domain, f->domain, sizeof(f->domain), why_r) < 0)
		return -1;
	ll = s.ll;
	if (ll + 1 + strlen(f->domain) >= sizeof(f->addr)) {
		*why_r = "address too long";
		return -1;
	}
	memcpy(f->addr, s.local, ll);
	f->addr[ll] = '@';
	memcpy(f->addr + ll + 1, f->domain, strlen(f->domain) + 1);
	return 0;
bad:
	*why_r = x.why;
	return -1;
}

int
vfy_from_parse(const uint8_t *msg, size_t len, struct vfy_from *f, const char **why_r)
{
	struct find fd = { "From", 0, NULL, 0 };

	memset(f, 0, sizeof(*f));
	*why_r = "";
	if (walk_headers(msg, len, &fd, why_r) < 0)
		return -1;
	if (fd.count == 0) {
		*why_r = "no From header field";
		return -1;
	}
	if (fd.count > 1) {
		*why_r = "more than one From header field";
		return -1;
	}
	if (fd.vlen > FROM_VALUE_MAX) {
		*why_r = "From field too long";
		return -1;
	}
	return parse_mailbox(fd.val, fd.vlen, f, why_r);
}
