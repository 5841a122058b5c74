/* Unit tests for verify/vfy_from.c: the author domain (SMTPSEC.md 4 step 4).
 * Each row is a whole header section (plus body) and the expected address
 * and domain, or NULL for "authentication_failed". */
#include "tests/unit/t.h"
#include "verify/vfy_from.h"

#define B "\r\nTo: bob@b.test\r\nSubject: s\r\n\r\nbody\r\n"

static const struct {
	const char *label, *msg, *addr, *domain;
} rows[] = {
	{ "plain", "From: alice@a.test" B, "alice@a.test", "a.test" },
	{ "angle", "From: <alice@a.test>" B, "alice@a.test", "a.test" },
	{ "display_name", "From: Alice Liddell <alice@a.test>" B, "alice@a.test", "a.test" },
	{ "quoted_display", "From: \"Liddell, Alice\" <alice@a.test>" B, "alice@a.test", "a.test" },
	{ "quoted_display_with_at", "From: \"a@b.example\" <x@c.example>" B, "x@c.example", "c.example" },
	{ "comment", "From: alice@a.test (Alice)" B, "alice@a.test", "a.test" },
	{ "nested_comment", "From: (a (nested) comment) alice@a.test" B, "alice@a.test", "a.test" },
	{ "comment_with_at", "From: Alice (evil@x.test) <alice@a.test>" B, "alice@a.test", "a.test" },
	{ "folded", "From: Alice\r\n <alice@a.test>" B, "alice@a.test", "a.test" },
	{ "folded_tab", "From:\r\n\talice@a.test" B, "alice@a.test", "a.test" },
	{ "uppercase_domain", "From: alice@A.TeSt" B, "alice@a.test", "a.test" },
	{ "lowercase_name", "from: alice@a.test" B, "alice@a.test", "a.test" },
	{ "uppercase_name", "FROM: alice@a.test" B, "alice@a.test", "a.test" },
	{ "quoted_local", "From: \"al ice\"@a.test" B, "\"al ice\"@a.test", "a.test" },
	{ "dotted_local", "From: a.l.ice@mail.a.test" B, "a.l.ice@mail.a.test", "mail.a.test" },
	{ "plus_local", "From: alice+tag@a.test" B, "alice+tag@a.test", "a.test" },
	{ "ulabel", "From: alice@b\xc3\xbc" "cher.test" B, "alice@xn--bcher-kva.test", "xn--bcher-kva.test" },
	{ "alabel", "From: alice@XN--BCHER-KVA.test" B, "alice@xn--bcher-kva.test", "xn--bcher-kva.test" },
	{ "other_headers_first", "Date: x\r\nMessage-ID: <1@a.test>\r\nFrom: alice@a.test" B, "alice@a.test", "a.test" },
	{ "space_before_colon", "From : alice@a.test" B, "alice@a.test", "a.test" },
	{ "no_body", "From: alice@a.test\r\n", "alice@a.test", "a.test" },
	{ "no_final_crlf", "From: alice@a.test", "alice@a.test", "a.test" },
	{ "sender_ignored", "Sender: s@x.test\r\nFrom: alice@a.test" B, "alice@a.test", "a.test" },
	{ "resent_from_ignored", "Resent-From: r@x.test\r\nFrom: alice@a.test" B, "alice@a.test", "a.test" },
	{ "from_in_body_ignored", "From: alice@a.test\r\n\r\nFrom: evil@x.test\r\n", "alice@a.test", "a.test" },
	{ "hidden_in_fold_not_a_field", "Subject: hi\r\n From: evil@x.test\r\nFrom: alice@a.test" B, "alice@a.test", "a.test" },
	{ "trailing_dot_free", "From: <alice@sub.a.test>  " B, "alice@sub.a.test", "sub.a.test" },
	/* refused */
	{ "two_from_fields", "From: alice@a.test\r\nFrom: evil@x.test" B, NULL, NULL },
	{ "two_from_case", "From: alice@a.test\r\nfrom: evil@x.test" B, NULL, NULL },
	{ "two_from_space_colon", "From: alice@a.test\r\nFrom : evil@x.test" B, NULL, NULL },
	{ "no_from", "Sender: alice@a.test" B, NULL, NULL },
	{ "only_body_from", "Subject: x\r\n\r\nFrom: alice@a.test\r\n", NULL, NULL },
	{ "two_mailboxes", "From: alice@a.test, bob@b.test" B, NULL, NULL },
	{ "two_mailboxes_angle", "From: A <alice@a.test>, B <bob@b.test>" B, NULL, NULL },
	{ "group", "From: friends: alice@a.test;" B, NULL, NULL },
	{ "empty_group", "From: undisclosed-recipients:;" B, NULL, NULL },
	{ "domain_literal", "From: alice@[192.0.2.1]" B, NULL, NULL },
	{ "no_at", "From: alice" B, NULL, NULL },
	{ "empty", "From: " B, NULL, NULL },
	{ "empty_local", "From: @a.test" B, NULL, NULL },
	{ "single_label", "From: alice@localhost" B, NULL, NULL },
	{ "bad_label", "From: alice@a..test" B, NULL, NULL },
	{ "hyphen_label", "From: alice@-a.test" B, NULL, NULL },
	{ "underscore_domain", "From: alice@a_b.test" B, NULL, NULL },
	{ "unterminated_angle", "From: <alice@a.test" B, NULL, NULL },
	{ "unterminated_quote", "From: \"alice <alice@a.test>" B, NULL, NULL },
	{ "unterminated_comment", "From: alice@a.test (x" B, NULL, NULL },
	{ "trailing_garbage", "From: <alice@a.test> extra" B, NULL, NULL },
	{ "two_angles", "From: <alice@a.test> <evil@x.test>" B, NULL, NULL },
	{ "source_route", "From: <@x.test:alice@a.test>" B, NULL, NULL },
	{ "bare_lf", "From: alice@a.test\nTo: b@b.test\r\n\r\n", NULL, NULL },
	{ "bare_cr", "From: alice@a.test\rFrom: evil@x.test\r\n\r\n", NULL, NULL },
	{ "nul_in_header", "X-A: a\0b\r\nFrom: alice@a.test" B, NULL, NULL },
	{ "continuation_first", " From: alice@a.test" B, NULL, NULL },
	{ "line_without_colon", "From: alice@a.test\r\ngarbage line\r\n\r\n", NULL, NULL },
	{ "space_in_name", "Fr om: alice@a.test" B, NULL, NULL },
	{ "long_label", "From: alice@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test" B, NULL, NULL },
	{ "bad_idn", "From: alice@\xff\xfe.test" B, NULL, NULL },
};

static void
row(size_t i)
{
	struct vfy_from f;
	const char *why;
	size_t len = strlen(rows[i].msg);
	int r;

	if (strcmp(rows[i].label, "nul_in_header") == 0)
		len = sizeof("X-A: a\0b\r\nFrom: alice@a.test" B) - 1;
	r = vfy_from_parse((const uint8_t *)rows[i].msg, len, &f, &why);
	if (rows[i].addr == NULL) {
		if (r == 0)
			T_FAIL("accepted as %s", f.addr);
		T_ASSERT(why != NULL && *why != '\0');
		return;
	}
	if (r != 0)
		T_FAIL("refused: %s", why);
	T_EQ_STR(f.addr, rows[i].addr);
	T_EQ_STR(f.domain, rows[i].domain);
}

static void
t_very_long_field(void)
{
	size_t n = 200000, i;
	char *m = malloc(n + 64);
	struct vfy_from f;
	const char *why;

	T_ASSERT(m != NULL);
	memcpy(m, "From: ", 6);
	for (i = 6; i < n; i++)
		m[i] = 'a';
	memcpy(m + n, "@a.test\r\n\r\n", 12);
	T_EQ_INT(vfy_from_parse((const uint8_t *)m, n + 11, &f, &why), -1);
	free(m);
}

static void
t_find_header(void)
{
	static const char m[] = "SMTPsec-Used:\r\nX-A: 1\r\nx-a: 2\r\n\r\nSMTPsec-Used: body\r\n";
	const uint8_t *v;
	size_t vl;

	T_EQ_INT(vfy_from_find_header((const uint8_t *)m, sizeof(m) - 1, "smtpsec-used", &v, &vl), 1);
	T_EQ_INT(vl, 0);
	T_EQ_INT(vfy_from_find_header((const uint8_t *)m, sizeof(m) - 1, "X-A", &v, &vl), 2);
	T_EQ_MEM(v, vl, " 1", 2);
	T_EQ_INT(vfy_from_find_header((const uint8_t *)m, sizeof(m) - 1, "Subject", NULL, NULL), 0);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		T_CASE("from", rows[i].label, row(i));
	T_RUN(t_very_long_field);
	T_RUN(t_find_header);
	return T_END();
}
