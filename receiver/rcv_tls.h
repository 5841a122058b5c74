/*
 * rcv_tls: the wolfSSL server context (SMTPSEC.md 1): TLS 1.3 only unless
 * min_version = 1.2, no client certificate, session tickets on, no
 * renegotiation, no 0-RTT.  A reload builds a new context; connections keep
 * the one they started with (wolfSSL reference-counts contexts).
 */
#ifndef RCV_TLS_H
#define RCV_TLS_H

#include <stddef.h>
#include <stdint.h>

struct WOLFSSL_CTX;

/* Build a server context from PEM files.  NULL with a reason in err. */
struct WOLFSSL_CTX *rcv_tls_server_ctx(const char *cert, const char *key, int min_version,
    char *err, size_t errlen);

/* SHA-256 of the SubjectPublicKeyInfo of the first certificate in a PEM
 * file (for TLSA 3 1 1), any key type the gateway serves (RSA, ECDSA,
 * Ed25519, Ed448: the DER is read by verify/vfy_x509, not wolfSSL's X509
 * loader).  *named_r: 1 when its dNSNames match `name`.  0 or -1. */
int rcv_tls_cert_spki_sha256(const char *cert_pem, uint8_t out[32], int *named_r,
    const char *name, char *err, size_t errlen);

/* Process-wide wolfSSL init/cleanup. */
void rcv_tls_global_init(void);

#endif
