/*
 * smtpsec-cryptofloor: the crypto cost of one Email of SIZE bytes with the
 * wolfSSL this program is linked against (make bench: the floor that
 * cpu_over_crypto_floor divides the gateway's CPU per Email by).
 *
 *   smtpsec-cryptofloor [--size BYTES] [--min-ms MS]
 *
 * Three operations the gateway cannot avoid for a verified Ed25519 Email:
 *   - one Ed25519 signature verification (a 64-byte message: the fixed
 *     cost of the point arithmetic),
 *   - SHA-512 over SIZE bytes (Ed25519 hashes the signed body with it),
 *   - ChaCha20-Poly1305 decryption of SIZE bytes (the TLS records).
 * Each is repeated until MS milliseconds of this process's CPU time have
 * gone (at least 20 times; default 300 ms, at most 10 s) and timed with
 * CLOCK_PROCESS_CPUTIME_ID, so other load on the machine shows as less
 * wall time, not as a higher figure.  Each result is checked (the
 * signature verifies, the AEAD tag matches), so a broken build prints no
 * floor.  One line:
 *
 *   cryptofloor size=N ed25519_verify_us=X sha512_us=X chacha20_poly1305_us=X floor_us=X
 *
 * Exit 0, 1 when an operation fails, 2 on bad arguments.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha512.h>

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
fail(const char *what, int rc)
{
	fprintf(stderr, "smtpsec-cryptofloor: %s failed (%d)\n", what, rc);
	return 1;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = { { "size", 1, NULL, 's' }, { "min-ms", 1, NULL, 'm' },
		{ NULL, 0, NULL, 0 } };
	size_t size = 10240;
	long min_ms = 300;
	double budget, t0, us_ed, us_sha, us_aead;
	uint8_t *body, *ct, msg[64], sig[ED25519_SIG_SIZE], key[CHACHA20_POLY1305_AEAD_KEYSIZE];
	uint8_t iv[CHACHA20_POLY1305_AEAD_IV_SIZE], tag[CHACHA20_POLY1305_AEAD_AUTHTAG_SIZE];
	uint8_t aad[5] = { 23, 3, 3, 0, 0 }, digest[WC_SHA512_DIGEST_SIZE];
	word32 siglen = sizeof(sig);
	ed25519_key ed;
	WC_RNG rng;
	long n;
	int c, rc, ok;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *end;

		switch (c) {
		case 's':
			size = (size_t)strtoul(optarg, &end, 10);
			if (*end || size == 0 || size > 64u * 1024 * 1024) {
				fprintf(stderr, "smtpsec-cryptofloor: --size: 1 to 67108864 bytes, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'm':
			min_ms = strtol(optarg, &end, 10);
			if (*end || min_ms < 1 || min_ms > 10000) {
				fprintf(stderr, "smtpsec-cryptofloor: --min-ms: 1 to 10000, not '%s'\n", optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: smtpsec-cryptofloor [--size BYTES] [--min-ms MS]\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "smtpsec-cryptofloor: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	budget = (double)min_ms / 1000.0;
	body = malloc(size);
	ct = malloc(size);
	if (body == NULL || ct == NULL)
		return fail("malloc", 0);
	memset(body, 'x', size);
	memset(msg, 'm', sizeof(msg));
	memset(key, 7, sizeof(key));
	memset(iv, 9, sizeof(iv));

	/* Ed25519: a key made here, one signature, verified over and over */
	if ((rc = wc_InitRng(&rng)) != 0)
		return fail("wc_InitRng", rc);
	if ((rc = wc_ed25519_init(&ed)) != 0 || (rc = wc_ed25519_make_key(&rng, ED25519_KEY_SIZE, &ed)) != 0)
		return fail("Ed25519 key generation", rc);
	if ((rc = wc_ed25519_sign_msg(msg, sizeof(msg), sig, &siglen, &ed)) != 0)
		return fail("Ed25519 sign", rc);
	t0 = cpu_s();
	for (n = 0; n < 20 || cpu_s() - t0 < budget; n++) {
		ok = 0;
		rc = wc_ed25519_verify_msg(sig, siglen, msg, sizeof(msg), &ok, &ed);
		if (rc != 0 || ok != 1)
			return fail("Ed25519 verify", rc);
	}
	us_ed = (cpu_s() - t0) / (double)n * 1e6;

	t0 = cpu_s();
	for (n = 0; n < 20 || cpu_s() - t0 < budget; n++) {
		wc_Sha512 sha;

		if ((rc = wc_InitSha512(&sha)) != 0 || (rc = wc_Sha512Update(&sha, body, (word32)size)) != 0 ||
		    (rc = wc_Sha512Final(&sha, digest)) != 0)
			return fail("SHA-512", rc);
		wc_Sha512Free(&sha);
	}
	us_sha = (cpu_s() - t0) / (double)n * 1e6;

	/* ChaCha20-Poly1305: encrypt once, then decrypt (tag checked) */
	if ((rc = wc_ChaCha20Poly1305_Encrypt(key, iv, aad, sizeof(aad), body, (word32)size, ct, tag)) != 0)
		return fail("ChaCha20-Poly1305 encrypt", rc);
	t0 = cpu_s();
	for (n = 0; n < 20 || cpu_s() - t0 < budget; n++)
		if ((rc = wc_ChaCha20Poly1305_Decrypt(key, iv, aad, sizeof(aad), ct, (word32)size, tag, body)) != 0)
			return fail("ChaCha20-Poly1305 decrypt", rc);
	us_aead = (cpu_s() - t0) / (double)n * 1e6;
	if (body[0] != 'x' || body[size - 1] != 'x')
		return fail("ChaCha20-Poly1305 round trip", 0);

	printf("cryptofloor size=%zu ed25519_verify_us=%.1f sha512_us=%.1f chacha20_poly1305_us=%.1f floor_us=%.1f\n",
	    size, us_ed, us_sha, us_aead, us_ed + us_sha + us_aead);
	wc_ed25519_free(&ed);
	wc_FreeRng(&rng);
	free(body);
	free(ct);
	return 0;
}
