/*
 * vfy_sig: the Email signature (SMTPSEC.md 2.4, 4 step 3).
 *
 * The signing key is the SubjectPublicKeyInfo of the leaf certificate; the
 * algorithm must match it (an Ed25519 key only with ed25519, a P-256 key
 * only with ecdsa_secp256r1_sha256, ...).  ECDSA signatures are fixed-width
 * r||s.  Nothing is logged.
 */
#ifndef VFY_SIG_H
#define VFY_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "wire/wire_alg.h"

/* Results of vfy_sig_verify (0 = valid). */
#define VFY_SIG_OK		0
#define VFY_SIG_BAD		(-1)	/* does not verify */
#define VFY_SIG_MISMATCH	(-2)	/* algorithm does not fit the key */
#define VFY_SIG_BADKEY		(-3)	/* key unparsable or unsupported */

/* Parse a DER SubjectPublicKeyInfo: key type and the raw public key bytes
 * (a view into spki).  Returns 0 or -1. */
int vfy_spki_parse(const uint8_t *spki, size_t len, enum wire_key *type_r,
    const uint8_t **pub_r, size_t *pub_len_r);

/* Verify sig over msg with the key in spki under alg (also vfy_pkix's, for
 * EdDSA certificates).  Returns a VFY_SIG_* value; *why_r when not OK. */
int vfy_sig_verify(const uint8_t *spki, size_t spki_len, uint16_t alg,
    const uint8_t *sig, size_t sig_len, const uint8_t *msg, size_t msg_len,
    const char **why_r);

/*
 * The same check over a message given in pieces.  begin returns NULL with
 * *rc_r (a VFY_SIG_* value) and a reason when the key, algorithm or
 * signature length already decide; update feeds the next piece; end gives
 * the result and frees the stream; free drops it unused.
 */
struct vfy_sig_stream;
struct vfy_sig_stream *vfy_sig_stream_begin(const uint8_t *spki, size_t spki_len, uint16_t alg,
    const uint8_t *sig, size_t sig_len, int *rc_r, const char **why_r);
void vfy_sig_stream_update(struct vfy_sig_stream *st, const uint8_t *p, size_t n);
int vfy_sig_stream_end(struct vfy_sig_stream **st_p, const char **why_r);
void vfy_sig_stream_free(struct vfy_sig_stream **st_p);

#endif
