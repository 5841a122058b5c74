/*
 * vfy_sig: Email signature verification with wolfCrypt (SMTPSEC.md 2.4).
 * Keys live on the stack for the duration of one call and are freed on
 * every path.
 */
#include "verify/vfy_sig.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/ed448.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>

#include <string.h>

#include "verify/vfy_der.h"

static const uint8_t oid_ed25519[] = { 0x2b, 0x65, 0x70 };
static const uint8_t oid_ed448[] = { 0x2b, 0x65, 0x71 };
static const uint8_t oid_ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const uint8_t oid_rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const uint8_t oid_p256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t oid_p521[] = { 0x2b, 0x81, 0x04, 0x00, 0x23 };

const char *
vfy_key_type_name(enum vfy_key_type t)
{
	switch (t) {
	case VFY_KEY_ED25519: return "ed25519";
	case VFY_KEY_ED448: return "ed448";
	case VFY_KEY_P256: return "ecdsa-p256";
	case VFY_KEY_P384: return "ecdsa-p384";
	case VFY_KEY_P521: return "ecdsa-p521";
	case VFY_KEY_RSA: return "rsa";
	case VFY_KEY_EC_OTHER: return "ecdsa-other-curve";
	default: return "unknown";
	}
}

int
vfy_spki_parse(const uint8_t *spki, size_t len, enum vfy_key_type *type_r,
    const uint8_t **pub_r, size_t *pub_len_r)
{
	struct vfy_der in = vfy_der_view(spki, len), seq, alg;
	struct vfy_der_tlv t, a, oid, param, bits;

	*type_r = VFY_KEY_UNKNOWN;
	if (vfy_der_expect(&in, VFY_DER_SEQUENCE, &t) < 0 || in.len != 0)
		return -1;
	seq = vfy_der_inner(&t);
	if (vfy_der_expect(&seq, VFY_DER_SEQUENCE, &a) < 0 ||
	    vfy_der_expect(&seq, VFY_DER_BIT_STRING, &bits) < 0 || seq.len != 0)
		return -1;
	/* BIT STRING: first content byte is the unused-bit count, must be 0 */
	if (bits.len < 2 || bits.val[0] != 0)
		return -1;
	alg = vfy_der_inner(&a);
	if (vfy_der_expect(&alg, VFY_DER_OID, &oid) < 0)
		return -1;
	*pub_r = bits.val + 1;
	*pub_len_r = bits.len - 1;
	if (vfy_der_oid_eq(&oid, oid_ed25519, sizeof(oid_ed25519))) {
		if (alg.len != 0 || *pub_len_r != 32)
			return -1;
		*type_r = VFY_KEY_ED25519;
	} else if (vfy_der_oid_eq(&oid, oid_ed448, sizeof(oid_ed448))) {
		if (alg.len != 0 || *pub_len_r != 57)
			return -1;
		*type_r = VFY_KEY_ED448;
	} else if (vfy_der_oid_eq(&oid, oid_ec, sizeof(oid_ec))) {
		if (vfy_der_expect(&alg, VFY_DER_OID, &param) < 0 || alg.len != 0)
			return -1;
		if (vfy_der_oid_eq(&param, oid_p256, sizeof(oid_p256)))
			*type_r = VFY_KEY_P256;
		else if (vfy_der_oid_eq(&param, oid_p384, sizeof(oid_p384)))
			*type_r = VFY_KEY_P384;
		else if (vfy_der_oid_eq(&param, oid_p521, sizeof(oid_p521)))
			*type_r = VFY_KEY_P521;
		else
			*type_r = VFY_KEY_EC_OTHER;
	} else if (vfy_der_oid_eq(&oid, oid_rsa, sizeof(oid_rsa))) {
		*type_r = VFY_KEY_RSA;
	}
	return 0;
}

enum vfy_key_type
vfy_sig_key_for_alg(uint16_t alg)
{
	switch (alg) {
	case 0x0403: return VFY_KEY_P256;
	case 0x0503: return VFY_KEY_P384;
	case 0x0603: return VFY_KEY_P521;
	case 0x0807: return VFY_KEY_ED25519;
	case 0x0808: return VFY_KEY_ED448;
	default: return VFY_KEY_UNKNOWN;
	}
}

/* Hash in bounded steps so a large message needs no 32-bit length. */
static int
digest(enum vfy_key_type kt, const uint8_t *msg, size_t len, uint8_t *out, size_t *out_len)
{
	const size_t step = 1u << 30;
	size_t off = 0;
	int r = 0;

	if (kt == VFY_KEY_P256) {
		wc_Sha256 h;

		if (wc_InitSha256(&h) != 0)
			return -1;
		for (; off < len && r == 0; off += step)
			r = wc_Sha256Update(&h, msg + off, (word32)(len - off < step ? len - off : step));
		if (r == 0)
			r = wc_Sha256Final(&h, out);
		wc_Sha256Free(&h);
		*out_len = 32;
	} else {
		wc_Sha512 h;	/* SHA-384 shares the SHA-512 state type */

		if (kt == VFY_KEY_P384) {
			if (wc_InitSha384(&h) != 0)
				return -1;
			for (; off < len && r == 0; off += step)
				r = wc_Sha384Update(&h, msg + off, (word32)(len - off < step ? len - off : step));
			if (r == 0)
				r = wc_Sha384Final(&h, out);
			wc_Sha384Free(&h);
			*out_len = 48;
		} else {
			if (wc_InitSha512(&h) != 0)
				return -1;
			for (; off < len && r == 0; off += step)
				r = wc_Sha512Update(&h, msg + off, (word32)(len - off < step ? len - off : step));
			if (r == 0)
				r = wc_Sha512Final(&h, out);
			wc_Sha512Free(&h);
			*out_len = 64;
		}
	}
	return r == 0 ? 0 : -1;
}

static int
verify_ecdsa(enum vfy_key_type kt, const uint8_t *pub, size_t pub_len, const uint8_t *sig,
    size_t sig_len, const uint8_t *msg, size_t msg_len, const char **why_r)
{
	int curve = kt == VFY_KEY_P256 ? ECC_SECP256R1 : kt == VFY_KEY_P384 ? ECC_SECP384R1 : ECC_SECP521R1;
	uint8_t der[2 * 66 + 16], hash[64];
	word32 der_len = sizeof(der);
	size_t hash_len = 0, half = sig_len / 2;
	ecc_key key;
	int res = 0, rc;

	if (digest(kt, msg, msg_len, hash, &hash_len) < 0) {
		*why_r = "hash failed";
		return VFY_SIG_BAD;
	}
	/* fixed-width r||s, each left-padded: DER for wolfCrypt */
	if (wc_ecc_rs_raw_to_sig(sig, (word32)half, sig + half, (word32)half, der, &der_len) != 0) {
		*why_r = "r||s not encodable";
		return VFY_SIG_BAD;
	}
	if (wc_ecc_init(&key) != 0) {
		*why_r = "ecc init failed";
		return VFY_SIG_BAD;
	}
	if (wc_ecc_import_x963_ex(pub, (word32)pub_len, &key, curve) != 0) {
		wc_ecc_free(&key);
		*why_r = "bad EC public key";
		return VFY_SIG_BADKEY;
	}
	rc = wc_ecc_verify_hash(der, der_len, hash, (word32)hash_len, &res, &key);
	wc_ecc_free(&key);
	if (rc != 0 || res != 1) {
		*why_r = "ECDSA signature does not verify";
		return VFY_SIG_BAD;
	}
	return VFY_SIG_OK;
}

int
vfy_sig_verify(const uint8_t *spki, size_t spki_len, uint16_t alg, const uint8_t *sig,
    size_t sig_len, const uint8_t *msg, size_t msg_len, const char **why_r)
{
	enum vfy_key_type kt, want = vfy_sig_key_for_alg(alg);
	const uint8_t *pub;
	size_t pub_len;
	int res = 0, rc;

	*why_r = "";
	if (want == VFY_KEY_UNKNOWN) {
		*why_r = "unknown signature algorithm";
		return VFY_SIG_MISMATCH;
	}
	if (vfy_spki_parse(spki, spki_len, &kt, &pub, &pub_len) < 0) {
		*why_r = "unparsable public key";
		return VFY_SIG_BADKEY;
	}
	if (kt != want) {
		*why_r = "signature algorithm does not match the leaf key";
		return VFY_SIG_MISMATCH;
	}
	if (msg_len > UINT32_MAX && (kt == VFY_KEY_ED25519 || kt == VFY_KEY_ED448)) {
		*why_r = "message too large for EdDSA";
		return VFY_SIG_BAD;
	}
	switch (kt) {
	case VFY_KEY_ED25519: {
		ed25519_key key;

		if (sig_len != 64) {
			*why_r = "bad signature length";
			return VFY_SIG_BAD;
		}
		if (wc_ed25519_init(&key) != 0)
			return VFY_SIG_BAD;
		if (wc_ed25519_import_public(pub, (word32)pub_len, &key) != 0) {
			wc_ed25519_free(&key);
			*why_r = "bad Ed25519 public key";
			return VFY_SIG_BADKEY;
		}
		rc = wc_ed25519_verify_msg(sig, (word32)sig_len, msg, (word32)msg_len, &res, &key);
		wc_ed25519_free(&key);
		break;
	}
	case VFY_KEY_ED448: {
		ed448_key key;

		if (sig_len != 114) {
			*why_r = "bad signature length";
			return VFY_SIG_BAD;
		}
		if (wc_ed448_init(&key) != 0)
			return VFY_SIG_BAD;
		if (wc_ed448_import_public(pub, (word32)pub_len, &key) != 0) {
			wc_ed448_free(&key);
			*why_r = "bad Ed448 public key";
			return VFY_SIG_BADKEY;
		}
		rc = wc_ed448_verify_msg(sig, (word32)sig_len, msg, (word32)msg_len, &res, &key, NULL, 0);
		wc_ed448_free(&key);
		break;
	}
	case VFY_KEY_P256:
	case VFY_KEY_P384:
	case VFY_KEY_P521: {
		size_t want_len = kt == VFY_KEY_P256 ? 64 : kt == VFY_KEY_P384 ? 96 : 132;

		if (sig_len != want_len) {
			*why_r = "bad signature length";
			return VFY_SIG_BAD;
		}
		return verify_ecdsa(kt, pub, pub_len, sig, sig_len, msg, msg_len, why_r);
	}
	default:
		*why_r = "unsupported key";
		return VFY_SIG_BADKEY;
	}
	if (rc != 0 || res != 1) {
		*why_r = "EdDSA signature does not verify";
		return VFY_SIG_BAD;
	}
	return VFY_SIG_OK;
}
