/*
 * test_lmtp_trace: the trace header whitelist (SMTPSEC.md 8, item 4); the
 * syntax check is the codec's (tests/unit/wire/test_wire_trace.c).
 */
#include <stdio.h>
#include <string.h>

#include "lmtp/lmtp.h"
#include "tests/unit/t.h"

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
	t_allow_table();
	return T_END();
}
