/*
 * lmtp_addr: an address as the peer or the From field wrote it, in the form
 * an LMTP command line takes it (RFC 5321 4.1.2).  See lmtp.h.
 *
 * The local part is read as RFC 5322 3.4.1 does: words (atoms or
 * quoted-strings, quoted-pairs undone, the CRLF of a fold dropped) joined by
 * dots.  Its value is written back as a Dot-string when it is one, else as a
 * Quoted-string with "\" only before DQUOTE and backslash (qtextSMTP
 * otherwise).  What RFC 5321 cannot carry is refused: CR, LF, NUL, HTAB and
 * the other controls, DEL; octets >= 0x80 are reported (they need SMTPUTF8,
 * RFC 6531).  Nothing here allocates.
 */
#include "lmtp/lmtp.h"

#include <string.h>

static int
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c >= 0x80 || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 5321 Dot-string = Atom *("." Atom) */
static int
is_dot_string(const char *v, size_t n)
{
	size_t i;

	if (n == 0 || v[0] == '.' || v[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (v[i] == '.' ? v[i + 1] == '.' : !is_atext((unsigned char)v[i]))
			return 0;
	return 1;
}

int
lmtp_addr_smtp(const char *addr, char *out, size_t cap, int *utf8_r, const char **why_r)
{
	char val[LMTP_ADDR_MAX];
	size_t i = 0, n = 0, o = 0, dom;
	const unsigned char *a = (const unsigned char *)addr;
	int q = 0;			/* inside a quoted-string */

	*utf8_r = 0;
	*why_r = "";
	/* local part: words and dots up to the "@" outside quotes */
	for (; a[i] != '\0' && (q || a[i] != '@'); i++) {
		unsigned char c = a[i];

		if (c == '"') {
			q = !q;
			continue;
		}
		if (q && c == '\\') {
			c = a[++i];
			if (c == '\0')
				break;	/* unterminated */
		} else if (q && c == '\r' && a[i + 1] == '\n' && (a[i + 2] == ' ' || a[i + 2] == '\t')) {
			i++;	/* RFC 5322 3.2.4: a fold's CRLF is not content */
			continue;
		}
		if (q && (c < 32 || c == 127)) {
			*why_r = "control character in the local part (not expressible in SMTP)";
			return -1;
		}
		if (!q && c != '.' && !is_atext(c)) {
			*why_r = "character outside quotes not allowed in a local part";
			return -1;
		}
		if (n == sizeof(val)) {
			*why_r = "address too long";
			return -1;
		}
		val[n++] = (char)c;
	}
	if (q) {
		*why_r = "unterminated quoted local part";
		return -1;
	}
	if (a[i] != '@' || i == 0 || n > 64 || a[i + 1] == '\0') {	/* ""@x is legal */
		*why_r = n > 64 ? "local part over 64 octets" : "not local-part@domain";
		return -1;
	}
	dom = i + 1;
	for (i = dom; a[i] != '\0'; i++)
		if (a[i] <= 32 || a[i] == 127 || strchr("<>\"\\@()[],;:", a[i]) != NULL) {
			*why_r = "invalid character in the domain";
			return -1;
		}
	for (i = 0; i < n; i++)
		if ((unsigned char)val[i] >= 0x80)
			*utf8_r = 1;
	for (i = dom; a[i] != '\0'; i++)
		if (a[i] >= 0x80)
			*utf8_r = 1;
	/* write it: Dot-string, or Quoted-string (RFC 5321 4.1.2) */
#define PUT(ch) do { if (o + 1 >= cap) goto too_long; out[o++] = (char)(ch); } while (0)
	if (is_dot_string(val, n)) {
		for (i = 0; i < n; i++)
			PUT(val[i]);
	} else {
		PUT('"');
		for (i = 0; i < n; i++) {
			if (val[i] == '"' || val[i] == '\\')
				PUT('\\');
			PUT(val[i]);
		}
		PUT('"');
	}
	PUT('@');
	for (i = dom; a[i] != '\0'; i++)
		PUT(a[i]);
#undef PUT
	out[o] = '\0';
	return 0;
too_long:
	*why_r = "address too long";
	return -1;
}
