/*
 * test_wire_alg: the signature-algorithm table against the table in
 * SMTPSEC.md 2.4 (read from the spec, not copied), and its look-ups.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "wire/wire_alg.h"
#include "tests/unit/t.h"

/* Rows "| name | 0xNNNN | len | ..." of the spec's algorithm table. */
static void
t_matches_spec(void)
{
	const char *shared = getenv("SHARED");
	char path[4096], *text, *line, *save = NULL;
	size_t len, rows = 0;

	snprintf(path, sizeof(path), "%s/spec/SMTPSEC.md", shared && *shared ? shared : "../shared");
	text = (char *)buf_read_file(path, 1 << 24, &len);
	if (text == NULL)
		T_FAIL("cannot read %s", path);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		unsigned code, siglen;
		const struct wire_alg *a;

		if (sscanf(line, "| %63[a-z0-9_] | 0x%x | %u |", name, &code, &siglen) != 3)
			continue;
		rows++;
		a = wire_alg_by_name(name);
		if (a == NULL || a->code != code || a->sig_len != siglen) {
			free(text);
			T_FAIL("spec row %s 0x%04x %u: table has %s", name, code, siglen,
			    a ? "different values" : "no such name");
		}
	}
	free(text);
	T_EQ_INT(rows, wire_alg_count);
}

static void
t_lookups(void)
{
	for (size_t i = 0; i < wire_alg_count; i++) {
		const struct wire_alg *a = &wire_alg_table[i];
		char upper[64];
		size_t j;

		T_ASSERT(wire_alg_by_code(a->code) == a);
		T_ASSERT(wire_alg_by_name(a->name) == a);
		for (j = 0; a->name[j] && j + 1 < sizeof(upper); j++)
			upper[j] = (char)(a->name[j] >= 'a' && a->name[j] <= 'z' ? a->name[j] - 32 : a->name[j]);
		upper[j] = '\0';
		T_ASSERT(wire_alg_by_name(upper) == a);
		/* one algorithm per key type (verify/ checks a key against it) */
		for (j = 0; j < wire_alg_count; j++)
			T_ASSERT(j == i || wire_alg_table[j].key != a->key);
		T_ASSERT(a->key != WIRE_KEY_UNKNOWN && a->key != WIRE_KEY_RSA);
		T_EQ_INT(wire_alg_sig_len(a->code), a->sig_len);
		/* ECDSA r||s and EdDSA R||S: two field-sized halves */
		T_EQ_INT(a->sig_len, 2 * a->field_len);
		T_ASSERT(strcmp(wire_alg_key_name(a->key), "unknown") != 0);
	}
	T_ASSERT(wire_alg_by_code(0x0401) == NULL);	/* rsa_pkcs1_sha256: not SMTPsec */
	T_ASSERT(wire_alg_by_code(0) == NULL);
	T_EQ_INT(wire_alg_sig_len(0x0804), 0);
	T_ASSERT(wire_alg_by_name("ed25519x") == NULL);
	T_ASSERT(wire_alg_by_name("") == NULL);
	T_EQ_STR(wire_alg_key_name(WIRE_KEY_UNKNOWN), "unknown");
}

int
main(void)
{
	T_RUN(t_matches_spec);
	T_RUN(t_lookups);
	return T_END();
}
