/* wire_alg: see wire_alg.h. */
#include "wire/wire_alg.h"

#include <strings.h>

const struct wire_alg wire_alg_table[] = {
	{ WIRE_SIG_ECDSA_P256_SHA256, "ecdsa_secp256r1_sha256", WIRE_KEY_P256, 64, 32 },
	{ WIRE_SIG_ECDSA_P384_SHA384, "ecdsa_secp384r1_sha384", WIRE_KEY_P384, 96, 48 },
	{ WIRE_SIG_ECDSA_P521_SHA512, "ecdsa_secp521r1_sha512", WIRE_KEY_P521, 132, 66 },
	{ WIRE_SIG_ED25519, "ed25519", WIRE_KEY_ED25519, 64, 32 },
	{ WIRE_SIG_ED448, "ed448", WIRE_KEY_ED448, 114, 57 },
};
const size_t wire_alg_count = sizeof(wire_alg_table) / sizeof(wire_alg_table[0]);

const struct wire_alg *
wire_alg_by_code(uint16_t code)
{
	for (size_t i = 0; i < wire_alg_count; i++)
		if (wire_alg_table[i].code == code)
			return &wire_alg_table[i];
	return NULL;
}

const struct wire_alg *
wire_alg_by_name(const char *name)
{
	for (size_t i = 0; i < wire_alg_count; i++)
		if (strcasecmp(wire_alg_table[i].name, name) == 0)
			return &wire_alg_table[i];
	return NULL;
}

size_t
wire_alg_sig_len(uint16_t code)
{
	const struct wire_alg *a = wire_alg_by_code(code);

	return a != NULL ? a->sig_len : 0;
}

const char *
wire_alg_key_name(enum wire_key key)
{
	static const char *const n[] = { "unknown", "ed25519", "ed448", "ecdsa-p256",
	    "ecdsa-p384", "ecdsa-p521", "rsa", "ecdsa-other-curve" };

	return (unsigned)key < sizeof(n) / sizeof(n[0]) ? n[key] : "unknown";
}
