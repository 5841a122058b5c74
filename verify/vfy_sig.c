/*
 * vfy_sig: Email signature verification with wolfCrypt (SMTPSEC.md 2.4),
 * one-shot or as a stream; keys are freed on every path.
 */
#include "verify/vfy_sig.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/ed448.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>

#include <string.h>

#include "base/mem.h"
#include "verify/vfy_der.h"

static const uint8_t oid_ed25519[] = { 0x2b, 0x65, 0x70 };
static const uint8_t oid_ed448[] = { 0x2b, 0x65, 0x71 };
static const uint8_t oid_ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const uint8_t oid_rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const uint8_t oid_p256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t oid_p521[] = { 0x2b, 0x81, 0x04, 0x00, 0x23 };

int
vfy_spki_parse(const uint8_t *spki, size_t len, enum wire_key *type_r,
    const uint8_t **pub_r, size_t *pub_len_r)
{
	struct vfy_der in = vfy_der_view(spki, len), seq, alg;
	struct vfy_der_tlv t, a, oid, param, bits;

	*type_r = WIRE_KEY_UNKNOWN;
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
		*type_r = WIRE_KEY_ED25519;
	} else if (vfy_der_oid_eq(&oid, oid_ed448, sizeof(oid_ed448))) {
		if (alg.len != 0 || *pub_len_r != 57)
			return -1;
		*type_r = WIRE_KEY_ED448;
	} else if (vfy_der_oid_eq(&oid, oid_ec, sizeof(oid_ec))) {
		if (vfy_der_expect(&alg, VFY_DER_OID, &param) < 0 || alg.len != 0)
			return -1;
		if (vfy_der_oid_eq(&param, oid_p256, sizeof(oid_p256)))
			*type_r = WIRE_KEY_P256;
		else if (vfy_der_oid_eq(&param, oid_p384, sizeof(oid_p384)))
			*type_r = WIRE_KEY_P384;
		else if (vfy_der_oid_eq(&param, oid_p521, sizeof(oid_p521)))
			*type_r = WIRE_KEY_P521;
		else
			*type_r = WIRE_KEY_EC_OTHER;
	} else if (vfy_der_oid_eq(&oid, oid_rsa, sizeof(oid_rsa))) {
		*type_r = WIRE_KEY_RSA;
	}
	return 0;
}

/*
 * The signature as a stream: the message arrives in pieces (the receiver
 * feeds the body as it is read, so no second pass over it is needed, and a
 * large body spooled to disk is never mapped for this).  EdDSA uses
 * wolfCrypt's streaming verify; ECDSA hashes incrementally.
 */
struct vfy_sig_stream {
	enum wire_key kt;
	uint8_t sig[132];
	size_t sig_len;
	uint8_t pub[133];
	size_t pub_len;
	uint64_t len;
	int failed;
	union {
		ed25519_key ed25519;
		ed448_key ed448;
		wc_Sha256 sha256;
		wc_Sha512 sha512;	/* SHA-384 shares the SHA-512 state type */
	} u;
};

struct vfy_sig_stream *
vfy_sig_stream_begin(const uint8_t *spki, size_t spki_len, uint16_t alg, const uint8_t *sig,
    size_t sig_len, int *rc_r, const char **why_r)
{
	const struct wire_alg *a = wire_alg_by_code(alg);
	enum wire_key kt;
	struct vfy_sig_stream *st;
	const uint8_t *pub;
	const char *bad_key = NULL;
	size_t pub_len;
	int r = -1;

	*why_r = "";
	*rc_r = VFY_SIG_MISMATCH;
	if (a == NULL) {
		*why_r = "unknown signature algorithm";
		return NULL;
	}
	*rc_r = VFY_SIG_BADKEY;
	if (vfy_spki_parse(spki, spki_len, &kt, &pub, &pub_len) < 0) {
		*why_r = "unparsable public key";
		return NULL;
	}
	if (kt != a->key) {
		*rc_r = VFY_SIG_MISMATCH;
		*why_r = "signature algorithm does not match the leaf key";
		return NULL;
	}
	*rc_r = VFY_SIG_BAD;
	if (sig_len != a->sig_len) {
		*why_r = "bad signature length";
		return NULL;
	}
	if (pub_len > sizeof(((struct vfy_sig_stream *)0)->pub)) {
		*rc_r = VFY_SIG_BADKEY;
		*why_r = "bad EC public key";
		return NULL;
	}
	st = mem_calloc(1, sizeof(*st));
	st->kt = kt;
	memcpy(st->sig, sig, sig_len);
	st->sig_len = sig_len;
	memcpy(st->pub, pub, pub_len);
	st->pub_len = pub_len;
	switch (kt) {
	case WIRE_KEY_ED25519:
		if (wc_ed25519_init(&st->u.ed25519) != 0)
			break;
		if (wc_ed25519_import_public(pub, (word32)pub_len, &st->u.ed25519) != 0)
			bad_key = "bad Ed25519 public key";
		else
			r = wc_ed25519_verify_msg_init(st->sig, (word32)sig_len, &st->u.ed25519, (byte)Ed25519, NULL, 0);
		if (r != 0)
			wc_ed25519_free(&st->u.ed25519);
		break;
	case WIRE_KEY_ED448:
		if (wc_ed448_init(&st->u.ed448) != 0)
			break;
		if (wc_ed448_import_public(pub, (word32)pub_len, &st->u.ed448) != 0)
			bad_key = "bad Ed448 public key";
		else
			r = wc_ed448_verify_msg_init(st->sig, (word32)sig_len, &st->u.ed448, (byte)Ed448, NULL, 0);
		if (r != 0)
			wc_ed448_free(&st->u.ed448);
		break;
	case WIRE_KEY_P256:
		r = wc_InitSha256(&st->u.sha256);
		break;
	case WIRE_KEY_P384:
		r = wc_InitSha384(&st->u.sha512);
		break;
	case WIRE_KEY_P521:
		r = wc_InitSha512(&st->u.sha512);
		break;
	default:
		break;
	}
	if (r != 0) {
		*rc_r = bad_key != NULL ? VFY_SIG_BADKEY : VFY_SIG_BAD;
		*why_r = bad_key != NULL ? bad_key : "signature set-up failed";
		free(st);
		return NULL;
	}
	*rc_r = VFY_SIG_OK;
	return st;
}

void
vfy_sig_stream_update(struct vfy_sig_stream *st, const uint8_t *p, size_t n)
{
	const size_t step = 1u << 30;	/* wolfCrypt lengths are 32-bit */

	while (n > 0 && !st->failed) {
		word32 k = (word32)(n < step ? n : step);
		int r = -1;

		switch (st->kt) {
		case WIRE_KEY_ED25519: r = wc_ed25519_verify_msg_update(p, k, &st->u.ed25519); break;
		case WIRE_KEY_ED448: r = wc_ed448_verify_msg_update(p, k, &st->u.ed448); break;
		case WIRE_KEY_P256: r = wc_Sha256Update(&st->u.sha256, p, k); break;
		case WIRE_KEY_P384: r = wc_Sha384Update(&st->u.sha512, p, k); break;
		case WIRE_KEY_P521: r = wc_Sha512Update(&st->u.sha512, p, k); break;
		default: break;
		}
		if (r != 0)
			st->failed = 1;
		st->len += k;
		p += k;
		n -= k;
	}
}

static int
ecdsa_final(struct vfy_sig_stream *st, const char **why_r)
{
	int curve = st->kt == WIRE_KEY_P256 ? ECC_SECP256R1 : st->kt == WIRE_KEY_P384 ? ECC_SECP384R1 : ECC_SECP521R1;
	uint8_t der[2 * 66 + 16], hash[64];
	word32 der_len = sizeof(der), hash_len;
	size_t half = st->sig_len / 2;
	ecc_key key;
	int res = 0, rc;

	if (st->kt == WIRE_KEY_P256) {
		rc = wc_Sha256Final(&st->u.sha256, hash);
		wc_Sha256Free(&st->u.sha256);
		hash_len = 32;
	} else if (st->kt == WIRE_KEY_P384) {
		rc = wc_Sha384Final(&st->u.sha512, hash);
		wc_Sha384Free(&st->u.sha512);
		hash_len = 48;
	} else {
		rc = wc_Sha512Final(&st->u.sha512, hash);
		wc_Sha512Free(&st->u.sha512);
		hash_len = 64;
	}
	if (rc != 0 || st->failed) {
		*why_r = "hash failed";
		return VFY_SIG_BAD;
	}
	/* fixed-width r||s, each left-padded: DER for wolfCrypt */
	if (wc_ecc_rs_raw_to_sig(st->sig, (word32)half, st->sig + half, (word32)half, der, &der_len) != 0) {
		*why_r = "r||s not encodable";
		return VFY_SIG_BAD;
	}
	if (wc_ecc_init(&key) != 0) {
		*why_r = "ecc init failed";
		return VFY_SIG_BAD;
	}
	if (wc_ecc_import_x963_ex(st->pub, (word32)st->pub_len, &key, curve) != 0) {
		wc_ecc_free(&key);
		*why_r = "bad EC public key";
		return VFY_SIG_BADKEY;
	}
	rc = wc_ecc_verify_hash(der, der_len, hash, hash_len, &res, &key);
	wc_ecc_free(&key);
	if (rc != 0 || res != 1) {
		*why_r = "ECDSA signature does not verify";
		return VFY_SIG_BAD;
	}
	return VFY_SIG_OK;
}

int
vfy_sig_stream_end(struct vfy_sig_stream **st_p, const char **why_r)
{
	struct vfy_sig_stream *st = *st_p;
	int res = 0, rc = -1;

	*why_r = "";
	*st_p = NULL;
	if (st == NULL) {
		*why_r = "no signature stream";
		return VFY_SIG_BAD;
	}
	switch (st->kt) {
	case WIRE_KEY_ED25519:
		if (!st->failed)
			rc = wc_ed25519_verify_msg_final(st->sig, (word32)st->sig_len, &res, &st->u.ed25519);
		wc_ed25519_free(&st->u.ed25519);
		break;
	case WIRE_KEY_ED448:
		if (!st->failed)
			rc = wc_ed448_verify_msg_final(st->sig, (word32)st->sig_len, &res, &st->u.ed448);
		wc_ed448_free(&st->u.ed448);
		break;
	default:
		rc = ecdsa_final(st, why_r);
		free(st);
		return rc;
	}
	free(st);
	if (rc != 0 || res != 1) {
		*why_r = "EdDSA signature does not verify";
		return VFY_SIG_BAD;
	}
	return VFY_SIG_OK;
}

void
vfy_sig_stream_free(struct vfy_sig_stream **st_p)
{
	const char *why;

	if (*st_p != NULL) {
		(*st_p)->failed = 1;	/* release the state without verifying */
		(void)vfy_sig_stream_end(st_p, &why);
	}
}

int
vfy_sig_verify(const uint8_t *spki, size_t spki_len, uint16_t alg, const uint8_t *sig,
    size_t sig_len, const uint8_t *msg, size_t msg_len, const char **why_r)
{
	struct vfy_sig_stream *st;
	int rc;

	st = vfy_sig_stream_begin(spki, spki_len, alg, sig, sig_len, &rc, why_r);
	if (st == NULL)
		return rc;
	vfy_sig_stream_update(st, msg, msg_len);
	return vfy_sig_stream_end(&st, why_r);
}
