/*
 * test_lmtp_authres: which Authentication-Results fields of the signed
 * message claim our authserv-id and are renamed (SMTPSEC.md 8, RFC 8601
 * 2.2 and 5).
 *
 * Every expected value is derived by hand from the ABNF, not from the code:
 *
 *   RFC 8601 2.2   authres-payload = [CFWS] authserv-id [CFWS authres-version]
 *                                    ( no-result / 1*resinfo ) [CFWS] CRLF
 *                  authserv-id     = value          ; compared case-insensitively
 *   RFC 2045 5.1   value  = token / quoted-string
 *                  token  = 1*<any CHAR except SPACE, CTLs, or tspecials>
 *                  tspecials = ( ) < > @ , ; : \ " / [ ] ? =
 *   RFC 5322 3.2.2 CFWS = (1*([FWS] comment) [FWS]) / FWS
 *                  comment = "(" *([FWS] ccontent) [FWS] ")"
 *                  ccontent = ctext / quoted-pair / comment      (nesting)
 *                  FWS = ([*WSP CRLF] 1*WSP)                     (folding)
 *   RFC 5322 3.2.4 quoted-string = [CFWS] DQUOTE *([FWS] qcontent) [FWS] DQUOTE [CFWS]
 *                  qcontent = qtext / quoted-pair; the CRLF of a FWS inside
 *                  is not part of the value
 *
 * Rows marked POLICY go beyond the ABNF on purpose, fail-closed (see
 * lmtp_authres_claims): trailing dot, WSP at the edges of a quoted-string,
 * our token followed by a syntax error, an unterminated quoted-string.
 * Our authserv-id here is "gw.b.test".  authres_abnf.py next to this file
 * re-derives every row from the ABNF with regular expressions (a second,
 * independent implementation): run it after changing the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmtp/lmtp.h"
#include "lmtp/lmtp_int.h"
#include "tests/unit/t.h"

#define ID "gw.b.test"

struct row {
	const char *label;
	const char *value;	/* after the colon; "\r\n" is appended */
	int claims;
};

static const struct row rows[] = {
	/* authserv-id = token */
	{ "plain", " gw.b.test; smtpsec=pass", 1 },			/* 2.2 [CFWS] token ";" */
	{ "no_space", "gw.b.test;smtpsec=pass", 1 },			/* 2.2 CFWS is optional */
	{ "upper", " GW.B.TEST; dkim=pass", 1 },			/* 2.2 case-insensitive */
	{ "mixed_case", " Gw.B.tEsT; none", 1 },			/* 2.2 case-insensitive */
	{ "tab_before", "\tgw.b.test; none", 1 },			/* 5322 FWS = WSP */
	{ "id_cfws_semicolon", " gw.b.test  ; none", 1 },		/* 2.2 id, then [CFWS] before no-result ";" */
	{ "id_comment_semicolon", " gw.b.test (c) ; none", 1 },	/* id CFWS(comment) ";" */
	{ "id_version", " gw.b.test 1; spf=pass", 1 },		/* 2.2 CFWS authres-version */
	{ "id_only", " gw.b.test", 1 },				/* token ends at CRLF */
	{ "id_folded_after", " gw.b.test\r\n ; none", 1 },		/* FWS between id and ";" */
	/* CFWS before the id: comments */
	{ "comment_before", " (trusted) gw.b.test; smtpsec=pass", 1 },	/* 2.2 [CFWS]: comment */
	{ "comment_no_space", "(x)gw.b.test; none", 1 },		/* comment then token, no FWS */
	{ "two_comments", " (a) (b)gw.b.test; none", 1 },		/* several [FWS] comment */
	{ "nested_comment", " (a (b (c)) d) gw.b.test; none", 1 },	/* ccontent = comment */
	{ "comment_qp_paren", " (a \\) b) gw.b.test; none", 1 },	/* quoted-pair "\)" does not close */
	{ "comment_qp_open", " (a \\( b) gw.b.test; none", 1 },	/* "\(" does not open a level */
	{ "comment_has_other_id", " (other.test;) gw.b.test; none", 1 },/* ";" inside ctext */
	{ "comment_has_our_id", " (gw.b.test) other.test; none", 0 },	/* id is other.test */
	{ "comment_fold_before_id", " (trusted)\r\n gw.b.test; none", 1 },	/* FWS inside CFWS */
	{ "fold_inside_comment", " (tru\r\n\tsted) gw.b.test; none", 1 },	/* [FWS] ccontent */
	{ "fold_first", "\r\n gw.b.test; none", 1 },			/* value starts with FWS */
	{ "fold_first_comment", "\r\n (c)\r\n\tgw.b.test; none", 1 },	/* FWS comment FWS */
	{ "deep_nesting", " ((((((((((x))))))))))gw.b.test; none", 1 },	/* nesting depth 10 */
	{ "unclosed_comment", " (trusted gw.b.test; none", 0 },	/* no comment end: no id at all */
	{ "unbalanced_nested", " (a (b) gw.b.test; none", 0 },	/* still inside the outer comment */
	/* authserv-id = quoted-string */
	{ "quoted", " \"gw.b.test\"; smtpsec=pass", 1 },		/* 2045 value = quoted-string */
	{ "quoted_upper", " \"GW.b.Test\"; none", 1 },		/* case-insensitive */
	{ "quoted_qp_dot", " \"gw\\.b.test\"; none", 1 },		/* quoted-pair "\." = "." */
	{ "quoted_qp_all", " \"\\g\\w\\.\\b\\.\\t\\e\\s\\t\"; none", 1 },	/* every char a quoted-pair */
	{ "quoted_comment_before", " (x) \"gw.b.test\"; none", 1 },	/* [CFWS] quoted-string */
	{ "quoted_fold_inside", " \"gw.b.\r\n test\"; none", 0 },	/* FWS WSP stays: "gw.b. test" */
	{ "quoted_escaped_quote", " \"gw.b.test\\\"\"; none", 0 },	/* value is gw.b.test" */
	{ "quoted_other", " \"other.test\"; none", 0 },		/* different id */
	{ "quoted_prefix", " \"gw.b.test.evil\"; none", 0 },		/* different id */
	{ "quoted_space_edges", " \" gw.b.test \"; none", 1 },	/* POLICY: edge WSP ignored */
	{ "quoted_unterminated", " \"gw.b.test; none", 0 },		/* value would be `gw.b.test; none` */
	{ "quoted_unterminated_id", " \"gw.b.test", 1 },		/* POLICY: ends at the field end */
	/* different ids: prefix / suffix of ours */
	{ "suffix_label", " gw.b.test.evil; none", 0 },		/* token includes ".evil" */
	{ "suffix_char", " gw.b.testx; none", 0 },			/* token "gw.b.testx" */
	{ "suffix_hyphen", " gw.b.test-2; none", 0 },			/* "-" is a token char */
	{ "prefix_label", " evil.gw.b.test; none", 0 },		/* token "evil.gw.b.test" */
	{ "prefix_char", " xgw.b.test; none", 0 },			/* token "xgw.b.test" */
	{ "shorter", " gw.b.tes; none", 0 },				/* token "gw.b.tes" */
	{ "parent", " b.test; none", 0 },				/* token "b.test" */
	{ "id_then_8bit", " gw.b.test\xc3\xa9; none", 1 },		/* POLICY: token is US-ASCII, ends there */
	{ "other", " other.test; dkim=pass", 0 },			/* a different token */
	{ "empty", "", 0 },						/* no authserv-id */
	{ "only_cfws", " (gw.b.test) ", 0 },				/* no authserv-id */
	{ "only_semicolon", " ; gw.b.test", 0 },			/* empty token before ";" */
	/* trailing dot */
	{ "trailing_dot", " gw.b.test.; none", 1 },			/* POLICY: same DNS name, absolute */
	{ "trailing_two_dots", " gw.b.test..; none", 0 },		/* not a DNS name of ours */
	{ "quoted_trailing_dot", " \"gw.b.test.\"; none", 1 },	/* POLICY, quoted */
	/* our token followed by a tspecial: a syntax error after our id */
	{ "id_then_slash", " gw.b.test/x; none", 1 },			/* POLICY: token ends at "/" */
	{ "id_then_quote", " gw.b.test\"x\"; none", 1 },		/* POLICY: token ends at DQUOTE */
	{ "id_then_paren", " gw.b.test(c); none", 1 },		/* token then comment (CFWS) */
	{ "id_then_at", " gw.b.test@x; none", 1 },			/* POLICY: "@" ends the token */
	{ "id_then_eq", " gw.b.test=x; none", 1 },			/* POLICY: "=" ends the token */
};

static void
check_row(const struct row *r)
{
	size_t n = strlen(r->value);
	char *v = malloc(n + 3);

	T_ASSERT(v != NULL);
	memcpy(v, r->value, n);
	memcpy(v + n, "\r\n", 3);
	if (lmtp_authres_claims((const uint8_t *)v, n + 2, ID) != r->claims) {
		free(v);
		T_FAIL("claims %s, expected %d", r->value, r->claims);
	}
	free(v);
}

static void
t_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		T_CASE("t_table", rows[i].label, check_row(&rows[i]));
}

/* Our configured id written with a trailing dot or in capitals. */
static void
t_config_id_forms(void)
{
	static const uint8_t v[] = " gw.b.test; none\r\n";

	T_ASSERT(lmtp_authres_claims(v, sizeof(v) - 1, "gw.b.test.") == 1);
	T_ASSERT(lmtp_authres_claims(v, sizeof(v) - 1, "GW.B.TEST") == 1);
	T_ASSERT(lmtp_authres_claims(v, sizeof(v) - 1, "b.test") == 0);
}

/* Whole header sections through lmtp_copy_build: field names in any case,
 * folding between the name and the value, every claiming field renamed and
 * the rest byte for byte. */
struct msg_row {
	const char *label;
	const char *in;		/* header section + body of the signed message */
	const char *want;	/* the same after renaming */
};

#define XU "X-Untrusted-Authentication-Results"
static const struct msg_row msg_rows[] = {
	{ "comment_before",
	  "Authentication-Results: (trusted) gw.b.test; smtpsec=pass\r\nFrom: a@a.test\r\n\r\nx\r\n",
	  XU ": (trusted) gw.b.test; smtpsec=pass\r\nFrom: a@a.test\r\n\r\nx\r\n" },
	{ "quoted",
	  "From: a@a.test\r\nAuthentication-Results: \"gw.b.test\"; smtpsec=pass\r\n\r\nx\r\n",
	  "From: a@a.test\r\n" XU ": \"gw.b.test\"; smtpsec=pass\r\n\r\nx\r\n" },
	{ "name_case_fold",
	  "aUTHENTICATION-rESULTS:\r\n (c\r\n (d))\r\n \"GW.B.TEST\"\r\n ; dkim=pass\r\nSubject: s\r\n\r\n",
	  XU ":\r\n (c\r\n (d))\r\n \"GW.B.TEST\"\r\n ; dkim=pass\r\nSubject: s\r\n\r\n" },
	{ "space_before_colon",
	  "Authentication-Results : (x) gw.b.test; none\r\n\r\n",
	  XU " : (x) gw.b.test; none\r\n\r\n" },
	{ "several",
	  "Authentication-Results: (a) gw.b.test; none\r\nAuthentication-Results: gw.b.test.evil; none\r\n"
	  "Authentication-Results: \"gw.b.test.\"; none\r\nAuthentication-Results: other.test; none\r\n\r\n"
	  "Authentication-Results: (a) gw.b.test; in the body\r\n",
	  XU ": (a) gw.b.test; none\r\nAuthentication-Results: gw.b.test.evil; none\r\n"
	  XU ": \"gw.b.test.\"; none\r\nAuthentication-Results: other.test; none\r\n\r\n"
	  "Authentication-Results: (a) gw.b.test; in the body\r\n" },
	{ "other_field_names",
	  "X-Authentication-Results: (a) gw.b.test; none\r\nAuthentication-Result: gw.b.test; none\r\n\r\n",
	  "X-Authentication-Results: (a) gw.b.test; none\r\nAuthentication-Result: gw.b.test; none\r\n\r\n" },
};

static void
check_msg(const struct msg_row *r)
{
	struct lmtp_copy_info info;
	struct lmtp_copy c;
	const char *why;
	char *out;
	size_t i, off = 0, wl = strlen(r->want);

	memset(&info, 0, sizeof(info));
	info.authserv_id = ID;
	info.hostname = ID;
	info.require_security = -1;
	T_ASSERT(lmtp_copy_build(&info, NULL, 0, (const uint8_t *)r->in, strlen(r->in), &c, &why) == 0);
	out = malloc(c.total + 1);
	T_ASSERT(out != NULL);
	for (i = 0; i < c.n_seg; i++) {
		memcpy(out + off, c.seg[i].p, c.seg[i].len);
		off += c.seg[i].len;
	}
	/* skip the prepended block: it is ours */
	if (off < c.head_len || off - c.head_len != wl ||
	    memcmp(out + c.head_len, r->want, wl) != 0) {
		fprintf(stderr, "got: %.*s\n", (int)(off - c.head_len), out + c.head_len);
		free(out);
		lmtp_copy_free(&c);
		T_FAIL("delivered header section differs");
	}
	free(out);
	lmtp_copy_free(&c);
}

static void
t_messages(void)
{
	size_t i;

	for (i = 0; i < sizeof(msg_rows) / sizeof(msg_rows[0]); i++)
		T_CASE("t_messages", msg_rows[i].label, check_msg(&msg_rows[i]));
}

int
main(void)
{
	t_table();
	T_RUN(t_config_id_forms);
	t_messages();
	return T_END();
}
