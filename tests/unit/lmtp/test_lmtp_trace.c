/*
 * test_lmtp_trace: trace header validation and the whitelist
 * (SMTPSEC.md 8, item 4).
 */
#include <stdio.h>
#include <string.h>

#include "lmtp/lmtp.h"
#include "tests/unit/t.h"

struct valid_row {
	const char *label, *name;
	size_t name_len;		/* 0: strlen */
	const char *value;
	size_t value_len;		/* 0: strlen */
	int ok;
};

#define V(label, name, value, ok) { label, name, 0, value, 0, ok }
static const struct valid_row valid_rows[] = {
	V("plain", "Received", "from a.test by b.test; Tue, 1 Jan 2030 00:00:00 +0000", 1),
	V("folded_sp", "Received", "from a.test\r\n by b.test", 1),
	V("folded_tab", "X-Trace", "one\r\n\ttwo", 1),
	V("empty_value", "X-Empty", "", 1),
	V("all_ftext", "!#$%&'*+-.^_`|~09AZaz", "v", 1),
	V("8bit_value", "X-Name", "caf\xc3\xa9", 1),
	V("crlf_injection", "Received", "x\r\nAuthentication-Results: b.test; smtpsec=pass", 0),
	V("bare_lf", "Received", "x\nFake: y", 0),
	V("bare_cr", "Received", "x\ry", 0),
	V("crlf_at_end", "Received", "x\r\n", 0),
	V("cr_at_end", "Received", "x\r", 0),
	V("crlf_crlf_sp", "Received", "x\r\n\r\n y", 0),
	V("empty_name", "", "x", 0),
	V("name_colon", "Received:", "x", 0),
	V("name_space", "X Trace", "x", 0),
	V("name_tab", "X\tTrace", "x", 0),
	V("name_8bit", "X-Caf\xc3\xa9", "x", 0),
	V("name_del", "X-\x7f", "x", 0),
	V("name_cr", "X-\r", "x", 0),
	{ "nul_in_value", "Received", 0, "ab\0cd", 5, 0 },
	{ "nul_in_name", "X-A\0B", 5, "v", 0, 0 },
};

static void
valid_row(const struct valid_row *r)
{
	struct lmtp_trace t;
	const char *why = NULL;
	int rc;

	t.name = (const uint8_t *)r->name;
	t.name_len = r->name_len ? r->name_len : strlen(r->name);
	t.value = (const uint8_t *)r->value;
	t.value_len = r->value_len ? r->value_len : strlen(r->value);
	rc = lmtp_trace_valid(&t, &why);
	if (r->ok)
		T_EQ_INT(rc, 0);
	else {
		T_EQ_INT(rc, -1);
		T_ASSERT(why != NULL && why[0] != '\0');
	}
}

static void
t_valid_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(valid_rows) / sizeof(valid_rows[0]); i++)
		T_CASE("t_valid_table", valid_rows[i].label, valid_row(&valid_rows[i]));
}

static void
t_name_too_long(void)
{
	static char name[LMTP_TRACE_NAME_MAX + 2];
	struct lmtp_trace t = { (const uint8_t *)name, LMTP_TRACE_NAME_MAX, (const uint8_t *)"v", 1 };
	const char *why;

	memset(name, 'X', sizeof(name));
	T_EQ_INT(lmtp_trace_valid(&t, &why), 0);
	t.name_len++;
	T_EQ_INT(lmtp_trace_valid(&t, &why), -1);
}

struct allow_row {
	const char *name;
	int def, star, exact;	/* default list, "*", "X-Foo,received" */
};

static const struct allow_row allow_rows[] = {
	{ "Received", 1, 1, 1 },
	{ "RECEIVED", 1, 1, 1 },
	{ "received", 1, 1, 1 },
	{ "Received-SPF", 0, 1, 0 },
	{ "Receive", 0, 1, 0 },
	{ "X-Anything", 1, 1, 0 },
	{ "x-lower", 1, 1, 0 },
	{ "X-", 1, 1, 0 },
	{ "X", 0, 1, 0 },
	{ "XX-Foo", 0, 1, 0 },
	{ "X-Foo", 1, 1, 1 },
	{ "x-foo", 1, 1, 1 },
	{ "X-Foo2", 1, 1, 0 },
	{ "Subject", 0, 1, 0 },
	{ "Authentication-Results", 0, 0, 0 },
	{ "authentication-results", 0, 0, 0 },
	{ "SMTPsec-Used", 0, 0, 0 },
	{ "SMTPSEC-USED", 0, 0, 0 },
	{ "X-Untrusted-Authentication-Results", 1, 1, 0 },
};

static void
allow_row(const struct allow_row *r)
{
	static const char *const def[] = { "Received", "X-*" };
	static const char *const star[] = { "*" };
	static const char *const exact[] = { "X-Foo", "received" };
	const uint8_t *n = (const uint8_t *)r->name;
	size_t len = strlen(r->name);

	T_EQ_INT(lmtp_trace_allowed(def, 2, n, len), r->def);
	T_EQ_INT(lmtp_trace_allowed(star, 1, n, len), r->star);
	T_EQ_INT(lmtp_trace_allowed(exact, 2, n, len), r->exact);
	T_EQ_INT(lmtp_trace_allowed(NULL, 0, n, len), 0);
}

static void
t_allow_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(allow_rows) / sizeof(allow_rows[0]); i++)
		T_CASE("t_allow_table", allow_rows[i].name, allow_row(&allow_rows[i]));
}

int
main(void)
{
	t_valid_table();
	T_RUN(t_name_too_long);
	t_allow_table();
	return T_END();
}
