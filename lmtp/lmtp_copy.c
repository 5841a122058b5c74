/*
 * lmtp_copy: the delivered copy (SMTPSEC.md section 8).
 *
 * Output is a list of segments: the prepended block (owned), then the
 * signed message in ranges (borrowed), with the field name of every
 * Authentication-Results field that claims our authserv-id replaced by
 * "X-Untrusted-Authentication-Results" (RFC 8601 section 5).  Nothing else
 * in the signed message changes.
 */
#include "lmtp/lmtp.h"
#include "lmtp/lmtp_int.h"
#include "base/buf.h"
#include "base/mem.h"
#include "wire/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char untrusted[] = "X-Untrusted-Authentication-Results";

/* Text we put into a header ourselves: printable ASCII only. */
static const char *
clean(const char *s, char *buf, size_t len)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return "unknown";
	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = (s[i] > 32 && s[i] < 127 && s[i] != '(' && s[i] != ')' && s[i] != ';') ? s[i] : '_';
	buf[i] = '\0';
	return buf;
}

int
lmtp_trace_allowed(const char *const *allow, size_t n, const uint8_t *name, size_t len)
{
	size_t i;

	/* never from a trace header, whatever the list says */
	if ((len == 22 && strncasecmp((const char *)name, "Authentication-Results", 22) == 0) ||
	    (len == 12 && strncasecmp((const char *)name, "SMTPsec-Used", 12) == 0))
		return 0;
	for (i = 0; i < n; i++) {
		size_t al = strlen(allow[i]);

		if (al > 0 && allow[i][al - 1] == '*') {
			if (len >= al - 1 && strncasecmp((const char *)name, allow[i], al - 1) == 0)
				return 1;
		} else if (al == len && strncasecmp((const char *)name, allow[i], len) == 0)
			return 1;
	}
	return 0;
}

/* One field of the signed header section (next_field), as offsets into msg. */
struct field {
	size_t start, name_end, value_start, end;	/* end: after the CRLF */
};

/* End of the header section: just past the CRLF of the last field. */
static size_t
header_end(const uint8_t *m, size_t len)
{
	const uint8_t *blank;

	if (len >= 2 && m[0] == '\r' && m[1] == '\n')
		return 0;
	blank = memmem(m, len, "\r\n\r\n", 4);
	return blank != NULL ? (size_t)(blank - m) + 2 : len;
}

static int
next_field(const uint8_t *m, size_t hend, size_t *pos, struct field *f)
{
	size_t i = *pos;

	if (i >= hend)
		return 0;
	f->start = i;
	while (i < hend && m[i] != ':' && m[i] != '\r' && m[i] != '\n')
		i++;
	f->name_end = i;
	while (f->name_end > f->start && (m[f->name_end - 1] == ' ' || m[f->name_end - 1] == '\t'))
		f->name_end--;
	f->value_start = i < hend && m[i] == ':' ? i + 1 : i;
	for (;;) {
		while (i < hend && m[i] != '\n')
			i++;
		if (i >= hend) {
			f->end = hend;
			break;
		}
		i++;
		if (i < hend && (m[i] == ' ' || m[i] == '\t'))
			continue;
		f->end = i;
		break;
	}
	*pos = f->end;
	return 1;
}

/*
 * Does this Authentication-Results value claim our authserv-id?
 * RFC 8601 2.2: authres-payload = [CFWS] authserv-id ...; authserv-id is a
 * RFC 2045 `value` (token / quoted-string), compared case-insensitively.
 *
 * CFWS (RFC 5322 3.2.2): WSP, folds, comments (nested, with quoted-pairs).
 * A comment that never closes leaves no authserv-id: not a claim.
 * token (RFC 2045 5.1): 1*<US-ASCII CHAR except SP, CTLs, tspecials>.
 * quoted-string (RFC 5322 3.2.4): quoted-pairs unescaped, the CRLF of a fold
 * removed.
 *
 * Fail closed where a lax reader could see our id: what follows the id is
 * not checked (our token followed by a syntax error, a tspecial or an 8-bit
 * octet, still claims us), an
 * unterminated quoted-string ends at the end of the field, WSP at the edges
 * of a quoted-string is ignored, and one trailing dot (the same DNS name
 * written absolute) is ignored on both sides.  Renaming a field that did not
 * claim us costs nothing; trusting one that did is the forgery.
 */
static int
is_token_char(uint8_t c)
{
	return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static size_t
skip_cfws(const uint8_t *v, size_t len, size_t i)
{
	while (i < len) {
		if (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n') {
			i++;
		} else if (v[i] == '(') {
			size_t depth = 0;

			do {
				if (i >= len)
					return len;	/* unterminated: no id follows */
				if (v[i] == '\\') {
					i += len - i >= 2 ? 2 : 1;
					continue;
				}
				if (v[i] == '(')
					depth++;
				else if (v[i] == ')')
					depth--;
				i++;
			} while (depth > 0);
		} else
			break;
	}
	return i;
}

static int
same_id(const char *a, size_t al, const char *b, size_t bl)
{
	if (al > 0 && a[al - 1] == '.')
		al--;
	if (bl > 0 && b[bl - 1] == '.')
		bl--;
	return al > 0 && al == bl && strncasecmp(a, b, al) == 0;
}

int
lmtp_authres_claims(const uint8_t *v, size_t len, const char *id)
{
	size_t i, n = 0, s;
	char *val;
	int r;

	i = skip_cfws(v, len, 0);
	if (i >= len)
		return 0;
	if (v[i] == '"') {
		val = mem_alloc(len);	/* the unescaped value is never longer */
		for (i++; i < len && v[i] != '"'; i++) {
			uint8_t c = v[i];

			if (c == '\\' && len - i >= 2)
				c = v[++i];
			else if (c == '\r' || c == '\n')
				continue;	/* the CRLF of a fold is not content */
			val[n++] = (char)c;
		}
		for (s = 0; s < n && (val[s] == ' ' || val[s] == '\t'); s++)
			;
		while (n > s && (val[n - 1] == ' ' || val[n - 1] == '\t'))
			n--;
		r = same_id(val + s, n - s, id, strlen(id));
		free(val);
		return r;
	}
	for (s = i; i < len && is_token_char(v[i]); i++)
		;
	return same_id((const char *)v + s, i - s, id, strlen(id));
}

/* Append a (validated) trace value, folding lines that grow past 78
 * octets at whitespace, and past 998 (RFC 5322 2.1.1) anywhere. */
#define FOLD_SOFT 78
#define FOLD_HARD 990
static void
add_folded(struct buf *b, size_t col, const uint8_t *v, size_t len)
{
	size_t i, from = 0;

	for (i = 0; i < len; i++) {
		uint8_t c = v[i];

		if (c == '\r') {	/* an existing fold: CRLF WSP (validated) */
			col = 0;
			i++;
			continue;
		}
		if ((c == ' ' || c == '\t') && col >= FOLD_SOFT && i > 0 && v[i - 1] != ' ' &&
		    v[i - 1] != '\t' && v[i - 1] != '\n') {
			buf_add(b, v + from, i - from);
			buf_add(b, "\r\n", 2);
			from = i;
			col = 0;
		} else if (col >= FOLD_HARD) {
			buf_add(b, v + from, i - from);
			buf_add(b, "\r\n\t", 3);
			from = i;
			col = 1;
		}
		col++;
	}
	buf_add(b, v + from, len - from);
}

static void
rfc5322_date(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* Our authserv-id or one of the additional ids (a fleet's former or
 * per-host ids): each with lmtp_authres_claims' rules. */
static int
claims_ours(const struct lmtp_copy_info *in, const uint8_t *v, size_t len)
{
	size_t i;

	if (lmtp_authres_claims(v, len, in->authserv_id))
		return 1;
	for (i = 0; i < in->n_authserv_also; i++)
		if (in->authserv_also[i] != NULL && in->authserv_also[i][0] &&
		    lmtp_authres_claims(v, len, in->authserv_also[i]))
			return 1;
	return 0;
}

int
lmtp_copy_build(const struct lmtp_copy_info *in, const struct wire_header *trace, size_t n_trace,
    const uint8_t *msg, size_t msg_len, struct lmtp_copy *c, const char **why_r)
{
	struct buf b = { 0 };
	char d1[256], d2[256], d3[64], d4[64], d5[64], d6[256], d7[256], date[64];
	const char *auth = in->authserv_id;
	size_t i, hend, pos = 0, body_from = 0;
	struct field f;
	int have_used = 0;

	memset(c, 0, sizeof(*c));
	*why_r = "";
	for (i = 0; i < n_trace; i++)
		if (wire_trace_valid(&trace[i], why_r) < 0)
			return -1;

	rfc5322_date(in->date, date, sizeof(date));
	buf_printf(&b, "Received: from %s (%s [%s])\r\n\tby %s with SMTPSEC id %s\r\n\t(%s %s); %s\r\n",
	    clean(in->sender_host, d1, sizeof(d1)), clean(in->cert_name, d2, sizeof(d2)),
	    clean(in->client_ip, d3, sizeof(d3)), clean(in->hostname, d6, sizeof(d6)),
	    clean(in->id, d4, sizeof(d4)), clean(in->tls_version, d5, sizeof(d5)),
	    clean(in->tls_cipher, d7, sizeof(d7)), date);
	buf_printf(&b, "Authentication-Results: %s;\r\n\tsmtpsec=pass header.from=%s smtp.cert=%s",
	    clean(auth, d1, sizeof(d1)), clean(in->from_domain, d2, sizeof(d2)),
	    clean(in->trust, d3, sizeof(d3)));
	if (in->require_security >= 0)
		buf_printf(&b, "\r\n\tsmtpsec.require-security=%d", in->require_security ? 1 : 0);
	buf_add(&b, "\r\n", 2);

	hend = header_end(msg, msg_len);
	/* SMTPsec-Used: only when the signed header section has none */
	pos = 0;
	while (next_field(msg, hend, &pos, &f))
		if (f.name_end - f.start == 12 && strncasecmp((const char *)msg + f.start, "SMTPsec-Used", 12) == 0)
			have_used = 1;
	if (!have_used)
		buf_add(&b, "SMTPsec-Used:\r\n", 15);

	for (i = 0; i < n_trace; i++) {
		const struct wire_bytes *name = &trace[i].name, *value = &trace[i].value;

		if (!lmtp_trace_allowed(in->trace_allow, in->n_trace_allow, name->p, name->len))
			continue;
		buf_add(&b, name->p, name->len);
		buf_add(&b, ":", 1);
		if (value->len > 0 && value->p[0] != ' ' && value->p[0] != '\t')
			buf_add(&b, " ", 1);
		add_folded(&b, name->len + 2, value->p, value->len);
		buf_add(&b, "\r\n", 2);
	}
	c->head = (char *)buf_steal(&b, &c->head_len);
	c->seg[c->n_seg].p = (const uint8_t *)c->head;
	c->seg[c->n_seg++].len = c->head_len;

	/* the signed message, with forged Authentication-Results renamed */
	pos = 0;
	while (next_field(msg, hend, &pos, &f)) {
		if (f.name_end - f.start == 22 &&
		    strncasecmp((const char *)msg + f.start, "Authentication-Results", 22) == 0 &&
		    claims_ours(in, msg + f.value_start, f.end - f.value_start)) {
			if (c->n_seg + 3 > LMTP_COPY_MAX_SEGS) {
				free(c->head);
				memset(c, 0, sizeof(*c));
				*why_r = "too many Authentication-Results fields claiming this gateway";
				return -1;
			}
			if (f.start > body_from) {
				c->seg[c->n_seg].p = msg + body_from;
				c->seg[c->n_seg++].len = f.start - body_from;
			}
			c->seg[c->n_seg].p = (const uint8_t *)untrusted;
			c->seg[c->n_seg++].len = sizeof(untrusted) - 1;
			body_from = f.name_end;
		}
	}
	if (msg_len > body_from) {
		c->seg[c->n_seg].p = msg + body_from;
		c->seg[c->n_seg++].len = msg_len - body_from;
	}
	for (i = 0; i < c->n_seg; i++)
		c->total += c->seg[i].len;
	return 0;
}

void
lmtp_copy_free(struct lmtp_copy *c)
{
	free(c->head);
	memset(c, 0, sizeof(*c));
}
