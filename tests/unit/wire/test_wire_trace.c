/*
 * test_wire_trace: step-1 syntax of trace headers, wire_trace_valid
 * (SMTPSEC.md 4 step 1, 8 item 4).
 */
#include <stdio.h>
#include <string.h>

#include "wire/wire.h"
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
	struct wire_header t;
	const char *why = NULL;
	int rc;

	t.name.p = (const uint8_t *)r->name;
	t.name.len = r->name_len ? r->name_len : strlen(r->name);
	t.value.p = (const uint8_t *)r->value;
	t.value.len = r->value_len ? r->value_len : strlen(r->value);
	rc = wire_trace_valid(&t, &why);
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
	static char name[WIRE_TRACE_NAME_MAX + 2];
	struct wire_header t = { { (const uint8_t *)name, WIRE_TRACE_NAME_MAX }, { (const uint8_t *)"v", 1 } };
	const char *why;

	memset(name, 'X', sizeof(name));
	T_EQ_INT(wire_trace_valid(&t, &why), 0);
	t.name.len++;
	T_EQ_INT(wire_trace_valid(&t, &why), -1);
}

int
main(void)
{
	t_valid_table();
	T_RUN(t_name_too_long);
	return T_END();
}
