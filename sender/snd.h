/*
 * smtpsec-send internals: signing keys (snd_sign.c), finding and
 * authenticating a receiving gateway (snd_discover.c), one session that
 * delivers one Email (snd_session.c), and the Postfix pipe(8) mode
 * (snd_pipe.c).  main() is snd_main.c.
 */
#ifndef SND_H
#define SND_H

#include <stddef.h>
#include <stdint.h>

/* sysexits(3) values the pipe mode returns (Postfix maps them). */
#define SND_EX_OK		0
#define SND_EX_NOUSER		67
#define SND_EX_UNAVAILABLE	69
#define SND_EX_TEMPFAIL		75

struct snd_key;
struct vfy_srv;

uint8_t *snd_read_file(const char *path, size_t *len_r);
struct snd_key *snd_key_load(const char *path, char *err, size_t errlen);
void snd_key_free(struct snd_key **k_p);
uint16_t snd_key_alg(const struct snd_key *k);
/* sig must hold 132 bytes. */
int snd_sign(struct snd_key *k, const uint8_t *msg, size_t len, uint8_t *sig, size_t *sig_len);
int snd_chain_load(const char *path, uint8_t ***der_r, size_t **len_r, size_t *n_r, char *err,
    size_t errlen);

/* Monotonic seconds. */
double snd_now(void);

/* A uniform value in [0, n) from the OS (getrandom(2)); 0 when n < 2.
 * Every run draws afresh: RFC 2782 weights must spread senders. */
unsigned snd_random_below(unsigned n);

struct snd_discover_opts {
	const char *unbound_conf, *trust_anchor_file;
	const char *ca_file;		/* PKIX store; NULL: only DANE-EE can pass */
	const char *ct_log_list;	/* NULL: step 9 fails closed (no PKIX-only target) */
	const char *const *resolve;	/* "NAME:PORT:ADDR" overrides for tests */
	size_t n_resolve;
	double deadline;		/* snd_now() value; 0: none */
	int verbose;			/* per-target notes on stderr, "server ..." on stdout */
};

struct snd_disc;

/* Resolver, CA store and CT logs, loaded once.  0, or -1 with err. */
int snd_disc_new(struct snd_disc **d_r, const struct snd_discover_opts *o, char *err,
    size_t errlen);
void snd_disc_free(struct snd_disc **d_p);

/* SMTPSEC.md 10.1-10.2: the DNSSEC SRV set of domain in this run's
 * RFC 2782 order (malloc'd, caller frees).  0; -1 temporary (DNS error,
 * bogus, timeout); -2 the domain provably does not speak SMTPsec. */
int snd_disc_srv(struct snd_disc *d, const char *domain, struct vfy_srv **srv_r, size_t *n_r,
    char *err, size_t errlen);

/* SMTPSEC.md 10: find and authenticate the gateway of domain.  0 with a
 * connected, handshaken TLS session (*ssl_r is a WOLFSSL *, made from ctx,
 * the socket nonblocking) and the target's "name:port" in target_r; -2 when
 * the domain does not speak SMTPsec; -1 on a temporary failure (reason in
 * err, naming the last target tried). */
int snd_disc_connect(struct snd_disc *d, const char *domain, void *ctx, int *fd_r, void **ssl_r,
    char *target_r, size_t target_len, char *err, size_t errlen);

/* One session, one Email (snd_session.c). */
enum snd_reply {
	SND_R_NONE = 0,		/* no reply: connection lost or timed out */
	SND_R_DELIVERED,
	SND_R_ERROR,		/* code, and addresses for unknown_address */
};

struct snd_result {
	enum snd_reply reply;
	unsigned code;		/* SND_R_ERROR: the ErrorCode */
	char **addr;		/* unknown_address: the addresses (owned) */
	size_t n_addr;
	char why[256];		/* SND_R_NONE: what happened */
};

/* Send ClientHello (one chain) and one Email over ssl (fd nonblocking or
 * not; polled), read the reply to it, close.  0 with res_r filled (also for
 * SND_R_NONE). */
int snd_session_one(void *ssl, int fd, uint8_t **der, const size_t *derl, size_t n_der,
    const uint8_t *email_frame, size_t email_len, double deadline, struct snd_result *res_r);
void snd_result_clear(struct snd_result *r);

/* --pipe (snd_pipe.c): returns a sysexits value; writes one reason line. */
struct snd_pipe_opts {
	const char *keys;
	struct snd_discover_opts disc;
	unsigned timeout;		/* seconds */
	const char *const *rcpt;
	size_t n_rcpt;
};
int snd_pipe_run(const struct snd_pipe_opts *o);

/* Pieces of the pipe mode, exposed for tests. */
/* Bare LF -> CRLF (CRLF and lone CR kept), and a final CRLF when the last
 * line has none; malloc'd. */
uint8_t *snd_pipe_crlf(const uint8_t *m, size_t len, size_t *len_r);
/* A recipient's domain in lower-case A-labels without a trailing dot;
 * -1 when the address is malformed. */
int snd_pipe_rcpt_domain(const char *addr, char *out, size_t outlen);
/* The --keys line for domain: 0 with the key and chain paths; 1 no line;
 * -1 the file cannot be read or a line is malformed (err). */
int snd_pipe_keys_find(const char *path, const char *domain, char *key, char *chain, size_t len,
    char *err, size_t errlen);

#endif
