/* smtpsec-send internals. */
#ifndef SND_H
#define SND_H

#include <stddef.h>
#include <stdint.h>

struct snd_key;

uint8_t *snd_read_file(const char *path, size_t *len_r);
struct snd_key *snd_key_load(const char *path, char *err, size_t errlen);
void snd_key_free(struct snd_key **k_p);
uint16_t snd_key_alg(const struct snd_key *k);
/* sig must hold 132 bytes. */
int snd_sign(struct snd_key *k, const uint8_t *msg, size_t len, uint8_t *sig, size_t *sig_len);
int snd_chain_load(const char *path, uint8_t ***der_r, size_t **len_r, size_t *n_r, char *err,
    size_t errlen);

struct snd_discover_opts {
	const char *domain;		/* recipient domain */
	const char *unbound_conf, *trust_anchor_file;
	const char *ca_file;		/* PKIX store; NULL: only DANE-EE can pass */
	const char *const *resolve;	/* "NAME:PORT:ADDR" overrides for tests */
	size_t n_resolve;
};

/* SMTPSEC.md 10: find and authenticate the gateway.  0 with a connected,
 * handshaken TLS session (*ssl_r is a WOLFSSL *, made from ctx); -2 when
 * the domain does not speak SMTPsec; -1 on failure (reason in err). */
int snd_discover(const struct snd_discover_opts *o, void *ctx, int *fd_r, void **ssl_r,
    char *err, size_t errlen);

#endif
