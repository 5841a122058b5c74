/*
 * wire_alg: the signature-algorithm registry of SMTPsec (SMTPSEC.md 2.4),
 * the one table of it: code point, name, the key type it needs and its
 * sizes.  The codec takes signature lengths from it, verify/ the key type
 * an algorithm needs, smtpsec-verify and smtpsec-send the names and the
 * algorithm for a key.
 */
#ifndef WIRE_ALG_H
#define WIRE_ALG_H

#include <stddef.h>
#include <stdint.h>

/* SMTPSEC.md 2.4 code points */
enum wire_sig_alg {
	WIRE_SIG_ECDSA_P256_SHA256 = 0x0403,
	WIRE_SIG_ECDSA_P384_SHA384 = 0x0503,
	WIRE_SIG_ECDSA_P521_SHA512 = 0x0603,
	WIRE_SIG_ED25519 = 0x0807,
	WIRE_SIG_ED448 = 0x0808,
};

/* Public key types (of a SubjectPublicKeyInfo; the last three sign no
 * SMTPsec algorithm, certificates may still carry them). */
enum wire_key {
	WIRE_KEY_UNKNOWN = 0,
	WIRE_KEY_ED25519,
	WIRE_KEY_ED448,
	WIRE_KEY_P256,
	WIRE_KEY_P384,
	WIRE_KEY_P521,
	WIRE_KEY_RSA,
	WIRE_KEY_EC_OTHER,
};

struct wire_alg {
	uint16_t code;
	const char *name;	/* as SMTPSEC.md 2.4 writes it */
	enum wire_key key;	/* the only key type it verifies with */
	size_t sig_len;		/* signature bytes: ECDSA r||s fixed width, EdDSA */
	size_t field_len;	/* bytes of one coordinate / EdDSA key */
};

extern const struct wire_alg wire_alg_table[];
extern const size_t wire_alg_count;

/* The entry for a code point or a name (case-insensitive); NULL when
 * there is none. */
const struct wire_alg *wire_alg_by_code(uint16_t code);
const struct wire_alg *wire_alg_by_name(const char *name);
/* Signature length for a code point, 0 if unknown. */
size_t wire_alg_sig_len(uint16_t code);
/* "ed25519", "ecdsa-p256", ..., "unknown". */
const char *wire_alg_key_name(enum wire_key key);

#endif
