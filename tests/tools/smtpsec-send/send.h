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

#endif
