/*
 * test_lmtp_addr: addresses written for LMTP commands (RFC 5321 4.1.2;
 * README, Delivery).  Input is the local part as RFC 5322 3.4.1 writes it
 * (the From mailbox) or as a peer sent it (a recipient).
 */
#include <stdio.h>
#include <string.h>

#include "lmtp/lmtp.h"
#include "tests/unit/t.h"

struct row {
	const char *label, *in;
	const char *out;	/* NULL: refused */
	int utf8;
};

static const struct row rows[] = {
	{ "dot_atom", "a.b+c@atk.test", "a.b+c@atk.test", 0 },
	{ "quoted_space", "\"a b\"@atk.test", "\"a b\"@atk.test", 0 },
	{ "quoted_brackets", "\"<>\"@atk.test", "\"<>\"@atk.test", 0 },
	{ "quoted_at", "\"a@b\"@atk.test", "\"a@b\"@atk.test", 0 },
	{ "quoted_needless", "\"abc\"@atk.test", "abc@atk.test", 0 },	/* value is a Dot-string */
	{ "quoted_dots_ok", "\"a.b\"@atk.test", "a.b@atk.test", 0 },
	{ "quoted_two_dots", "\"a..b\"@atk.test", "\"a..b\"@atk.test", 0 },
	{ "quoted_lead_dot", "\".a\"@atk.test", "\".a\"@atk.test", 0 },
	{ "qp_quote", "\"a\\\"b\"@atk.test", "\"a\\\"b\"@atk.test", 0 },	/* \" stays */
	{ "qp_backslash", "\"a\\\\b\"@atk.test", "\"a\\\\b\"@atk.test", 0 },
	{ "qp_needless", "\"a\\bc\"@atk.test", "abc@atk.test", 0 },	/* \b is just b */
	{ "qp_space", "\"a\\ b\"@atk.test", "\"a b\"@atk.test", 0 },	/* no quoted-pair for SP */
	{ "obs_words", "a.\"b c\".d@atk.test", "\"a.b c.d\"@atk.test", 0 },
	{ "fold_in_quotes", "\"a\r\n b\"@atk.test", "\"a b\"@atk.test", 0 },	/* CRLF dropped, SP kept */
	{ "empty_quoted", "\"\"@atk.test", "\"\"@atk.test", 0 },
	{ "utf8_atom", "\xc3\xa9@atk.test", "\xc3\xa9@atk.test", 1 },
	{ "utf8_quoted", "\"\xc3\xa9 x\"@atk.test", "\"\xc3\xa9 x\"@atk.test", 1 },
	{ "utf8_domain", "a@\xc3\xa9.test", "a@\xc3\xa9.test", 1 },
	/* refused: RFC 5321 has no way to write these */
	{ "tab_in_quotes", "\"a\tb\"@atk.test", NULL, 0 },
	{ "fold_tab", "\"a\r\n\tb\"@atk.test", NULL, 0 },
	{ "cr_in_quotes", "\"a\rb\"@atk.test", NULL, 0 },
	{ "lf_in_quotes", "\"a\nb\"@atk.test", NULL, 0 },
	{ "qp_cr", "\"a\\\rb\"@atk.test", NULL, 0 },
	{ "del_in_quotes", "\"a\x7f\"@atk.test", NULL, 0 },
	{ "ctrl_in_quotes", "\"a\x01\"@atk.test", NULL, 0 },
	{ "injection", "a@b.test>\r\nRCPT TO:<x@b.test", NULL, 0 },
	{ "space_unquoted", "a b@atk.test", NULL, 0 },
	{ "bracket_unquoted", "a<b@atk.test", NULL, 0 },
	{ "unterminated", "\"a b@atk.test", NULL, 0 },
	{ "dangling_backslash", "\"a\\", NULL, 0 },
	{ "no_at", "atk.test", NULL, 0 },
	{ "no_domain", "a@", NULL, 0 },
	{ "no_local", "@atk.test", NULL, 0 },
	{ "two_at", "a@b@atk.test", NULL, 0 },
	{ "domain_bracket", "a@atk.test>", NULL, 0 },
	{ "domain_space", "a@atk test", NULL, 0 },
	{ "domain_literal", "a@[192.0.2.1]", NULL, 0 },
	{ "local_65", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@atk.test", NULL, 0 },
};

static void
check(const struct row *r)
{
	char out[LMTP_ADDR_MAX + 1];
	const char *why = NULL;
	int utf8 = -1, rc;

	rc = lmtp_addr_smtp(r->in, out, sizeof(out), &utf8, &why);
	if (r->out == NULL) {
		T_EQ_INT(rc, -1);
		T_ASSERT(why != NULL && why[0] != '\0');
		return;
	}
	T_EQ_INT(rc, 0);
	T_EQ_STR(out, r->out);
	T_EQ_INT(utf8, r->utf8);
	/* idempotent: the spool hands the written form back in */
	rc = lmtp_addr_smtp(r->out, out, sizeof(out), &utf8, &why);
	T_EQ_INT(rc, 0);
	T_EQ_STR(out, r->out);
}

static void
t_small_buffer(void)
{
	char out[8];
	const char *why;
	int utf8;

	T_EQ_INT(lmtp_addr_smtp("abcdefgh@atk.test", out, sizeof(out), &utf8, &why), -1);
	T_EQ_INT(lmtp_addr_smtp("a@b.c", out, sizeof(out), &utf8, &why), 0);
	T_EQ_STR(out, "a@b.c");
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		T_CASE("t_table", rows[i].label, check(&rows[i]));
	T_RUN(t_small_buffer);
	return T_END();
}
