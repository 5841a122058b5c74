/* smtpsec-send: message signing with the five algorithms of SMTPSEC.md 2.4. */
#include "base/buf.h"
#include "base/mem.h"
#include "sender/snd.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/ed448.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/random.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

struct snd_key {
	int kind;		/* 1 ed25519, 2 ed448, 3 ecc */
	ed25519_key ed;
	ed448_key ed4;
	ecc_key ecc;
	WC_RNG rng;
	uint16_t alg;
	size_t half;		/* ECDSA r/s width */
};

static uint8_t *
slurp(const char *path, size_t *len_r)
{
	return buf_read_file(path, SIZE_MAX / 2, len_r);
}

uint8_t *
snd_read_file(const char *path, size_t *len_r)
{
	return slurp(path, len_r);
}

struct snd_key *
snd_key_load(const char *path, char *err, size_t errlen)
{
	struct snd_key *k = mem_calloc(1, sizeof(*k));
	size_t len;
	uint8_t *pem = slurp(path, &len), der[8192], priv[64], pub[64];
	word32 idx;
	int dl;

	if (pem == NULL) {
		snprintf(err, errlen, "cannot read %s", path);
		free(k);
		return NULL;
	}
	dl = wc_KeyPemToDer(pem, (int)len, der, sizeof(der), NULL);
	free(pem);
	if (dl <= 0) {
		snprintf(err, errlen, "%s: not a PEM private key", path);
		free(k);
		return NULL;
	}
	wc_InitRng(&k->rng);
	idx = 0;
	wc_ed25519_init(&k->ed);
	if (wc_Ed25519PrivateKeyDecode(der, &idx, &k->ed, (word32)dl) == 0) {
		word32 pl = ED25519_KEY_SIZE;

		/* make sure the public half is set for signing */
		memcpy(priv, k->ed.k, ED25519_KEY_SIZE);
		if (wc_ed25519_make_public(&k->ed, pub, pl) == 0)
			wc_ed25519_import_private_key(priv, ED25519_KEY_SIZE, pub, pl, &k->ed);
		k->kind = 1;
		k->alg = WIRE_SIG_ED25519;
		return k;
	}
	idx = 0;
	wc_ed448_init(&k->ed4);
	if (wc_Ed448PrivateKeyDecode(der, &idx, &k->ed4, (word32)dl) == 0) {
		memcpy(priv, k->ed4.k, ED448_KEY_SIZE);
		if (wc_ed448_make_public(&k->ed4, pub, ED448_PUB_KEY_SIZE) == 0)
			wc_ed448_import_private_key(priv, ED448_KEY_SIZE, pub, ED448_PUB_KEY_SIZE, &k->ed4);
		k->kind = 2;
		k->alg = WIRE_SIG_ED448;
		return k;
	}
	idx = 0;
	wc_ecc_init(&k->ecc);
	if (wc_EccPrivateKeyDecode(der, &idx, &k->ecc, (word32)dl) == 0) {
		int sz = wc_ecc_size(&k->ecc);

		k->kind = 3;
		k->half = (size_t)sz;
		for (size_t i = 0; i < wire_alg_count; i++)
			if (wire_alg_table[i].sig_len == 2 * (size_t)sz &&
			    wire_alg_table[i].field_len == (size_t)sz &&
			    wire_alg_table[i].key >= WIRE_KEY_P256 && wire_alg_table[i].key <= WIRE_KEY_P521) {
				k->alg = wire_alg_table[i].code;
				return k;
			}
		snprintf(err, errlen, "%s: unsupported curve", path);
		free(k);
		return NULL;
	}
	snprintf(err, errlen, "%s: unsupported key type", path);
	free(k);
	return NULL;
}

void
snd_key_free(struct snd_key **k_p)
{
	struct snd_key *k = *k_p;

	if (k == NULL)
		return;
	*k_p = NULL;
	if (k->kind == 1)
		wc_ed25519_free(&k->ed);
	else if (k->kind == 2)
		wc_ed448_free(&k->ed4);
	else if (k->kind == 3)
		wc_ecc_free(&k->ecc);
	wc_FreeRng(&k->rng);
	free(k);
}

uint16_t
snd_key_alg(const struct snd_key *k)
{
	return k->alg;
}

int
snd_sign(struct snd_key *k, const uint8_t *msg, size_t len, uint8_t *sig, size_t *sig_len)
{
	word32 sl;

	if (k->kind == 1) {
		sl = 64;
		if (wc_ed25519_sign_msg(msg, (word32)len, sig, &sl, &k->ed) != 0)
			return -1;
		*sig_len = sl;
		return 0;
	}
	if (k->kind == 2) {
		sl = 114;
		if (wc_ed448_sign_msg(msg, (word32)len, sig, &sl, &k->ed4, NULL, 0) != 0)
			return -1;
		*sig_len = sl;
		return 0;
	}
	{
		uint8_t h[64], der[200], r[70], s[70];
		word32 hl, dl = sizeof(der), rl = sizeof(r), sl2 = sizeof(s);
		enum wc_HashType ht = k->half == 32 ? WC_HASH_TYPE_SHA256 :
		    k->half == 48 ? WC_HASH_TYPE_SHA384 : WC_HASH_TYPE_SHA512;

		hl = (word32)wc_HashGetDigestSize(ht);
		if (wc_Hash(ht, msg, (word32)len, h, hl) != 0)
			return -1;
		if (wc_ecc_sign_hash(h, hl, der, &dl, &k->rng, &k->ecc) != 0)
			return -1;
		if (wc_ecc_sig_to_rs(der, dl, r, &rl, s, &sl2) != 0 || rl > k->half || sl2 > k->half)
			return -1;
		/* fixed width r||s, left-padded (SMTPSEC.md 2.4) */
		memset(sig, 0, 2 * k->half);
		memcpy(sig + k->half - rl, r, rl);
		memcpy(sig + 2 * k->half - sl2, s, sl2);
		*sig_len = 2 * k->half;
		return 0;
	}
}

int
snd_chain_load(const char *path, uint8_t ***der_r, size_t **len_r, size_t *n_r, char *err,
    size_t errlen)
{
	size_t len, n = 0;
	uint8_t *pem = slurp(path, &len);
	const char *p, *end;
	uint8_t **der = NULL;
	size_t *dl = NULL;

	if (pem == NULL) {
		snprintf(err, errlen, "cannot read %s", path);
		return -1;
	}
	p = (const char *)pem;
	while ((p = strstr(p, "-----BEGIN CERTIFICATE-----")) != NULL) {
		uint8_t buf[65536];
		int r;

		end = strstr(p, "-----END CERTIFICATE-----");
		if (end == NULL)
			break;
		end += strlen("-----END CERTIFICATE-----");
		r = wc_CertPemToDer((const unsigned char *)p, (int)(end - p), buf, sizeof(buf), CERT_TYPE);
		if (r <= 0) {
			snprintf(err, errlen, "%s: bad certificate %zu", path, n + 1);
			free(pem);
			return -1;
		}
		der = mem_realloc(der, (n + 1) * sizeof(*der));
		dl = mem_realloc(dl, (n + 1) * sizeof(*dl));
		der[n] = mem_alloc((size_t)r);
		memcpy(der[n], buf, (size_t)r);
		dl[n] = (size_t)r;
		n++;
		p = end;
	}
	free(pem);
	if (n == 0) {
		snprintf(err, errlen, "%s: no certificate", path);
		return -1;
	}
	*der_r = der;
	*len_r = dl;
	*n_r = n;
	return 0;
}
