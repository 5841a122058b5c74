/* rcv_tls: see rcv_tls.h. */
#include "receiver/rcv_tls.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <errno.h>
#include <stdlib.h>
#include "base/mem.h"
#include "verify/vfy.h"

#include <stdio.h>
#include <string.h>

void
rcv_tls_global_init(void)
{
	static int done;

	if (!done) {
		wolfSSL_Init();
		done = 1;
	}
}

struct WOLFSSL_CTX *
rcv_tls_server_ctx(const char *cert, const char *key, int min_version, char *err, size_t errlen)
{
	WOLFSSL_CTX *ctx;

	rcv_tls_global_init();
	ctx = wolfSSL_CTX_new(min_version == 12 ? wolfSSLv23_server_method() : wolfTLSv1_3_server_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "wolfSSL_CTX_new failed");
		return NULL;
	}
	if (min_version == 12 && wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "cannot set TLS 1.2 as the minimum");
		goto fail;
	}
	if (wolfSSL_CTX_use_certificate_chain_file(ctx, cert) != WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "cannot load certificate chain %s", cert);
		goto fail;
	}
	if (wolfSSL_CTX_use_PrivateKey_file(ctx, key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "cannot load private key %s", key);
		goto fail;
	}
	if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "private key %s does not match certificate %s", key, cert);
		goto fail;
	}
	/* Debian's wolfSSL has no AES-NI: its AES-GCM is table-driven C and was
	 * the largest item in the profile (28% of a 10 KiB Email).  The server
	 * picks in its own order, so ChaCha20-Poly1305 comes first; senders
	 * without it get AES-GCM.  With TLS 1.2 allowed wolfSSL's list stays. */
#if defined(HAVE_CHACHA) && defined(HAVE_POLY1305) && !defined(WOLFSSL_AESNI)
	if (min_version != 12 && wolfSSL_CTX_set_cipher_list(ctx, "TLS13-CHACHA20-POLY1305-SHA256:"
	    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384") != WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "cannot set the TLS 1.3 cipher suites");
		goto fail;
	}
#endif
	/* the sender authenticates per Email, not with a client certificate */
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	/* wolfSSL's OpenSSL-compatible defaults (OPENSSL_COMPATIBLE_DEFAULTS,
	 * Debian's build and ours) turn on SSL_MODE_AUTO_RETRY: during the
	 * handshake a read that would block is retried 10 times in a row, 11
	 * recv() calls returning EAGAIN each time the client's flight is not
	 * there yet (about 12 of a connection's 50 system calls).  The sockets
	 * are non-blocking and libev says when to read again. */
#if defined(OPENSSL_EXTRA) || defined(HAVE_WEBSERVER)
	wolfSSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
#endif
	/* 0-RTT and renegotiation: this wolfSSL build has neither
	 * (no WOLFSSL_EARLY_DATA, no HAVE_SECURE_RENEGOTIATION); keep it so */
#if defined(WOLFSSL_EARLY_DATA)
	wolfSSL_CTX_set_max_early_data(ctx, 0);
#endif
	return ctx;
fail:
	wolfSSL_CTX_free(ctx);
	return NULL;
}

int
rcv_tls_cert_spki_sha256(const char *cert_pem, uint8_t out[32], int *named_r, const char *name,
    char *err, size_t errlen)
{
	FILE *f;
	char *pem;
	long pl;
	uint8_t *der;
	int dl;
	struct vfy_chain *ch = NULL;
	const uint8_t *dp;
	size_t dsz;
	const char *why = "";

	*named_r = 0;
	f = fopen(cert_pem, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "cannot read certificate %s: %s", cert_pem, strerror(errno));
		return -1;
	}
	pem = mem_alloc(1 << 20);
	pl = (long)fread(pem, 1, (1 << 20) - 1, f);
	fclose(f);
	der = mem_alloc(1 << 20);
	/* the first certificate of the file (the leaf) */
	dl = wc_CertPemToDer((const unsigned char *)pem, (int)pl, der, 1 << 20, CERT_TYPE);
	free(pem);
	if (dl <= 0) {
		free(der);
		snprintf(err, errlen, "cannot read certificate %s: no PEM certificate", cert_pem);
		return -1;
	}
	dp = der;
	dsz = (size_t)dl;
	if (vfy_chain_parse(&dp, &dsz, 1, &ch, &why) < 0) {
		free(der);
		snprintf(err, errlen, "cannot read certificate %s: %s", cert_pem, why);
		return -1;
	}
	free(der);
	if (wc_Sha256Hash(ch->cert[0].spki, (word32)ch->cert[0].spki_len, out) != 0) {
		vfy_chain_free(&ch);
		snprintf(err, errlen, "SHA-256 failed");
		return -1;
	}
	*named_r = name != NULL && vfy_chain_has_dns(ch, name);
	vfy_chain_free(&ch);
	return 0;
}
