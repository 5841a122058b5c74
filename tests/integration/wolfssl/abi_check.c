/*
 * abi_check: do the wolfSSL headers a program is compiled with describe
 * the library it links?  Each wolfCrypt object the gateway's code puts in
 * its own memory (stack or struct) is followed by a canary; the library
 * then works on it.  A library built with another options.h than the
 * headers (other struct layouts) writes past the object: the canary
 * changes.  t_wolfssl.sh compiles this against the project's wolfSSL as
 * the Makefile does (-I<deps>/include, the static library).
 *
 * Prints "abi NAME ok" or "abi NAME overwritten N bytes" per object, and
 * "abi NAME failed RC" when an operation fails.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>

#include <stdio.h>
#include <string.h>

#define CANARY 256

static int
report(const char *name, int rc, const unsigned char *canary)
{
	int i, n = 0;

	for (i = 0; i < CANARY; i++)
		n += canary[i] != 0xa5;
	if (rc != 0)
		printf("abi %s failed %d\n", name, rc);
	else if (n != 0)
		printf("abi %s overwritten %d bytes\n", name, n);
	else
		printf("abi %s ok\n", name);
	return rc != 0 || n != 0;
}

int
main(void)
{
	static unsigned char data[4096], out[4096], key[32], iv[12], tag[16], sig[64];
	struct { wc_Sha256 o; unsigned char c[CANARY]; } s256;
	struct { wc_Sha512 o; unsigned char c[CANARY]; } s512;
	struct { Hmac o; unsigned char c[CANARY]; } hm;
	struct { Aes o; unsigned char c[CANARY]; } aes;
	struct { ed25519_key o; unsigned char c[CANARY]; } ed;
	struct { ecc_key o; unsigned char c[CANARY]; } ec;
	struct { WC_RNG o; unsigned char c[CANARY]; } rng;
	word32 sl = sizeof(sig);
	int bad = 0, rc, ok = 0;

	memset(data, 'd', sizeof(data));
	memset(key, 'k', sizeof(key));
	memset(iv, 'i', sizeof(iv));
	memset(&s256, 0xa5, sizeof(s256));
	memset(&s512, 0xa5, sizeof(s512));
	memset(&hm, 0xa5, sizeof(hm));
	memset(&aes, 0xa5, sizeof(aes));
	memset(&ed, 0xa5, sizeof(ed));
	memset(&ec, 0xa5, sizeof(ec));
	memset(&rng, 0xa5, sizeof(rng));

	rc = wc_InitSha256(&s256.o);
	if (rc == 0 && (rc = wc_Sha256Update(&s256.o, data, sizeof(data))) == 0)
		rc = wc_Sha256Final(&s256.o, out);
	wc_Sha256Free(&s256.o);
	bad |= report("wc_Sha256", rc, s256.c);

	rc = wc_InitSha512(&s512.o);
	if (rc == 0 && (rc = wc_Sha512Update(&s512.o, data, sizeof(data))) == 0)
		rc = wc_Sha512Final(&s512.o, out);
	wc_Sha512Free(&s512.o);
	bad |= report("wc_Sha512", rc, s512.c);

	rc = wc_HmacInit(&hm.o, NULL, INVALID_DEVID);
	if (rc == 0 && (rc = wc_HmacSetKey(&hm.o, WC_SHA512, key, sizeof(key))) == 0 &&
	    (rc = wc_HmacUpdate(&hm.o, data, sizeof(data))) == 0)
		rc = wc_HmacFinal(&hm.o, out);
	wc_HmacFree(&hm.o);
	bad |= report("Hmac", rc, hm.c);

	rc = wc_AesInit(&aes.o, NULL, INVALID_DEVID);
	if (rc == 0 && (rc = wc_AesGcmSetKey(&aes.o, key, 16)) == 0)
		rc = wc_AesGcmEncrypt(&aes.o, out, data, sizeof(data), iv, sizeof(iv), tag, sizeof(tag), NULL, 0);
	wc_AesFree(&aes.o);
	bad |= report("Aes", rc, aes.c);

	rc = wc_InitRng(&rng.o);
	bad |= report("WC_RNG", rc, rng.c);
	if (rc != 0)
		return 1;

	/* streaming verification, as verify/vfy_sig.c does it */
	rc = wc_ed25519_init(&ed.o);
	if (rc == 0 && (rc = wc_ed25519_make_key(&rng.o, ED25519_KEY_SIZE, &ed.o)) == 0 &&
	    (rc = wc_ed25519_sign_msg(data, sizeof(data), sig, &sl, &ed.o)) == 0 &&
	    (rc = wc_ed25519_verify_msg_init(sig, sl, &ed.o, (byte)Ed25519, NULL, 0)) == 0 &&
	    (rc = wc_ed25519_verify_msg_update(data, sizeof(data), &ed.o)) == 0 &&
	    (rc = wc_ed25519_verify_msg_final(sig, sl, &ok, &ed.o)) == 0 && ok != 1)
		rc = -1;
	wc_ed25519_free(&ed.o);
	bad |= report("ed25519_key", rc, ed.c);

	rc = wc_ecc_init(&ec.o);
	if (rc == 0 && (rc = wc_ecc_make_key_ex(&rng.o, 32, &ec.o, ECC_SECP256R1)) == 0) {
		sl = sizeof(out);
		rc = wc_ecc_sign_hash(key, sizeof(key), out, &sl, &rng.o, &ec.o);
		if (rc == 0 && (rc = wc_ecc_verify_hash(out, sl, key, sizeof(key), &ok, &ec.o)) == 0 && ok != 1)
			rc = -1;
	}
	wc_ecc_free(&ec.o);
	bad |= report("ecc_key", rc, ec.c);

	wc_FreeRng(&rng.o);
	return bad;
}
