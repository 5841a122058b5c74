/*
 * vfy.h: the public interface of the verification library (SMTPSEC.md
 * section 4).  The receiver includes only this header.
 *
 * One Email goes through one pipeline, steps 2-9 in the spec's order:
 *
 *   e = vfy_email_begin(v, chains, &head);   when the Email's head is known
 *   vfy_email_update(e, bytes, n);           as the body streams (step 3)
 *   vfy_email_end(e, msg, len, now, cb, arg) steps 2-4 now, 5-9 on the loop
 *   vfy_email_verdict(e, &from)              one verdict
 *
 * verify/ never logs and never includes a receiver header: functions return
 * a result code plus a short reason, and the caller logs it.
 */
#ifndef VFY_H
#define VFY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "verify/vfy_from.h"
#include "verify/vfy_x509.h"

struct ev_loop;
struct redisAsyncContext;
struct redisContext;
struct vfy;
struct vfy_check;
struct vfy_dns;
struct vfy_dns_query;
struct vfy_pkix;
struct vfy_redis;
struct vfy_shcache;

/*
 * vfy_redis: the one Redis connection module (hiredis async on libev),
 * shared by the DNS cache (vfy_dns) and the stats writer (rcv_metrics); its
 * blocking form (vfy_redis_connect_sync) is smtpsec-stats' connection.
 *
 * It connects, sends AUTH / SELECT / PING and reads their replies: the
 * connection is "up" only after all of them succeeded.  Any failure
 * (refused, AUTH or SELECT rejected, NOAUTH, no reply within the handshake
 * timeout, a lost connection) makes it "down" with a reason, and it
 * reconnects with exponential backoff.  The owner's state callback runs on
 * every transition and when the kind of failure changes (unreachable ->
 * refused the password), never once per retry, so a caller that logs in it
 * logs each outage once.  The first outcome after creation is always
 * reported (a Redis unreachable at start is a transition too).
 *
 * Ownership: the redisAsyncContext is owned by this module; a user sends
 * commands on vfy_redis_ctx() while it is up and must not free it.  Reply
 * callbacks of commands still pending when the connection is dropped run
 * with a NULL reply.  Nothing here logs.
 */
struct vfy_redis_options {
	const char *host;		/* TCP, or */
	int port;			/* 0 = 6379 */
	const char *path;		/* a unix socket */
	const char *user;		/* ACL user, may be NULL */
	const char *password;		/* may be NULL */
	int db;
	double backoff_min;		/* seconds; 0 = 0.5 */
	double backoff_max;		/* seconds; 0 = 30 */
	unsigned handshake_ms;		/* AUTH/SELECT/PING replies within; 0 = 2000 */
};

/* The configured Redis, as parsed from "redis://[user:pass@]host:port[/db]"
 * or "unix:/path" (receiver/rcv_config.c): empty strings for what the URL
 * leaves out. */
struct vfy_redis_url {
	char host[256];
	int port;
	char path[512];		/* unix socket, or "" */
	char user[128];
	char password[256];
	int db;
};

/* Why the connection is down (VFY_REDIS_OK while up). */
enum vfy_redis_fault {
	VFY_REDIS_OK = 0,
	VFY_REDIS_UNREACHABLE,		/* connect failed or connection lost */
	VFY_REDIS_AUTH,			/* AUTH refused, or NOAUTH without a password */
	VFY_REDIS_REFUSED,		/* SELECT or PING answered with an error */
	VFY_REDIS_TIMEOUT,		/* no handshake reply in time, or dropped as stuck */
};

struct vfy_redis_status {
	int up;				/* 1 after a successful handshake */
	enum vfy_redis_fault fault;
	char why[200];			/* reason text ("" while up) */
	uint64_t errors;		/* failed connects, handshakes, lost connections */
	double retry_in;		/* seconds to the next attempt while down */
};


/* up: 1 now up, 0 now down (st says why). */
typedef void vfy_redis_state_cb(void *arg, struct vfy_redis *r, int up);

/* The options that reach the server u names: a socket path wins over the
 * host; empty strings become NULL.  The strings are borrowed from u; the
 * backoff and handshake settings are left at 0 (the defaults).  Used by the
 * DNS cache, the stats writer and smtpsec-stats alike. */
void vfy_redis_url_options(const struct vfy_redis_url *u, struct vfy_redis_options *o_r);

/* 1 when o names a server (a non-empty host or path). */
int vfy_redis_configured(const struct vfy_redis_options *o);

/* Create and start connecting (the strings are copied).  cb may be NULL. */
struct vfy_redis *vfy_redis_new(struct ev_loop *loop, const struct vfy_redis_options *opt,
    vfy_redis_state_cb *cb, void *arg);
/* Drop the connection (pending replies get NULL) without a callback. */
void vfy_redis_free(struct vfy_redis **r_p);

/* The context while up, else NULL.  Borrowed. */
struct redisAsyncContext *vfy_redis_ctx(struct vfy_redis *r);
/* The arg given to vfy_redis_new, found from a context (NULL when the
 * context is being dropped): for reply callbacks. */
void *vfy_redis_owner(const struct redisAsyncContext *ac);
/* Drop a connection that is up but misbehaving (a stuck reply); the state
 * goes down with fault and why, and a reconnect follows with backoff. */
void vfy_redis_drop(struct vfy_redis *r, enum vfy_redis_fault fault, const char *why);
void vfy_redis_status(const struct vfy_redis *r, struct vfy_redis_status *st_r);
const char *vfy_redis_fault_str(enum vfy_redis_fault f);

/* What stopped a blocking connection. */
struct vfy_redis_sync_err {
	enum vfy_redis_fault fault;
	const char *cmd;		/* "connect", "AUTH", "SELECT" or "PING" */
	char text[160];			/* the server's reply or the connection error, printable */
};

/*
 * Connect and hand-shake blocking (command-line tools): the same AUTH /
 * SELECT / PING with every reply checked as above, each step within
 * opt->handshake_ms (0 = 2000).  Returns a hiredis context the caller owns
 * (redisFree), or NULL with *err_r filled.  No backoff: a tool tries once.
 */
struct redisContext *vfy_redis_connect_sync(const struct vfy_redis_options *opt,
    struct vfy_redis_sync_err *err_r);

/*
 * vfy_dns: DNSSEC-validated lookups on libunbound inside a libev loop, with
 * a TTL cache in process or in Redis (SMTPSEC.md 4.5, 4.7, 9).
 *
 * Ownership: the answer handed to a callback is borrowed and valid only
 * during the callback; copy what you keep.  A query handle is owned by the
 * library until its callback has run or vfy_dns_cancel() has been called.
 * Callbacks are never run before vfy_dns_lookup() returns (cache hits are
 * delivered from the loop).  Nothing here logs: reasons come back in
 * answers and errors for the caller to log.
 */
#define VFY_DNS_T_SRV	33
#define VFY_DNS_T_TLSA	52

/* DNSSEC status, fail-closed at zero (Unbound sec_status). */
enum vfy_dns_status {
	VFY_DNS_UNCHECKED = 0,
	VFY_DNS_BOGUS,
	VFY_DNS_INSECURE,
	VFY_DNS_SECURE,
};

/* What the lookup produced, as verification needs it. */
enum vfy_dns_result {
	VFY_DNS_TEMPFAIL = 0,	/* SERVFAIL, timeout, bogus, resolver error */
	VFY_DNS_DATA,		/* NOERROR with records of the type asked */
	VFY_DNS_NODATA,		/* NOERROR, no records of that type */
	VFY_DNS_NXDOMAIN,
};

struct vfy_srv {
	uint16_t priority, weight, port;
	char target[256];	/* lower-case, no trailing dot; "." stays "." */
};

struct vfy_tlsa {
	uint8_t usage, selector, mtype;
	size_t len;
	const uint8_t *data;	/* borrowed from the answer */
};

struct vfy_dns_answer {
	const char *qname;	/* as asked, no trailing dot */
	uint16_t qtype;
	enum vfy_dns_result result;
	enum vfy_dns_status status;
	int rcode;
	uint32_t ttl;		/* seconds left; 0 for TEMPFAIL */
	int from_cache;		/* 0 resolver, 1 memory, 2 redis */
	const char *why;	/* why_bogus / timeout / error text, or "" */
	size_t n_srv;		/* SRV answers, ordered per RFC 2782 */
	const struct vfy_srv *srv;
	size_t n_tlsa;
	const struct vfy_tlsa *tlsa;
};

enum vfy_dns_cache_kind {
	VFY_DNS_CACHE_MEMORY = 0,
	VFY_DNS_CACHE_REDIS,
};

struct vfy_dns_options {
	const char *unbound_conf;	/* may be NULL */
	const char *trust_anchor_file;	/* may be NULL */
	unsigned timeout_ms;		/* per lookup; 0 = 5000 */
	enum vfy_dns_cache_kind cache;
	unsigned cache_max_ttl;		/* seconds */
	size_t cache_entries;		/* memory cache bound */
	/* Redis backend (cache = VFY_DNS_CACHE_REDIS), used at init only */
	struct vfy_redis_options redis;
	unsigned redis_timeout_ms;	/* longest wait for a cache reply; 0 = 200 */
	/* The fleet's cache key (VFY_CACHE_KEY_LEN bytes, copied), or NULL:
	 * with it every value stored in Redis is sealed and a value read back
	 * whose MAC fails is a miss (redis_forged); without it Redis is trusted. */
	const uint8_t *cache_mac_key;
	/* The host's shared cache (vfy_shcache_new, borrowed), or NULL: asked
	 * after this process's LRU, filled with every value stored. */
	struct vfy_shcache *shcache;
	unsigned negative_ttl_max;	/* cap for NXDOMAIN/NODATA TTLs; 0 = cache_max_ttl */
	/* Called on every Redis state change (the first outcome after init
	 * included, never once per retry): for the owner's log.  May be NULL. */
	void (*redis_state_cb)(void *arg, const struct vfy_redis_status *st);
	void *redis_state_arg;
};

struct vfy_dns_stats {
	uint64_t lookups, resolver_queries, mem_hits, mem_misses,
	    redis_hits, redis_misses, redis_errors, redis_garbage, tempfails,
	    redis_forged,	/* values whose MAC failed (also misses) */
	    shared_hits;	/* LRU misses answered by the host's shared cache */
	int redis_up;		/* 1 up (handshake done), 0 down, -1 no Redis */
};


typedef void vfy_dns_cb(void *arg, const struct vfy_dns_answer *ans);

/* Create a resolver on loop.  Refuses (returns -1, reason in err) when there
 * is neither a usable trust anchor nor an unbound_conf: the gateway must
 * never run without DNSSEC validation. */
int vfy_dns_init(struct vfy_dns **dns_r, struct ev_loop *loop,
    const struct vfy_dns_options *opt, char *err, size_t errlen);
void vfy_dns_deinit(struct vfy_dns **dns_p);
/* Whether path is a trust anchor libunbound can load: 0, or -1 with a
 * reason (the gateway checks this at start and at reload). */
int vfy_dns_check_trust_anchor(const char *path, char *err, size_t errlen);

/* Start a lookup of (name, qtype).  Returns a handle, or NULL when the
 * name is not a valid domain name (the callback is then not called). */
struct vfy_dns_query *vfy_dns_lookup(struct vfy_dns *dns, const char *name,
    uint16_t qtype, vfy_dns_cb *cb, void *arg);

/* Cancel a lookup whose callback has not run; sets *q_p to NULL. */
void vfy_dns_cancel(struct vfy_dns_query **q_p);

/* Counters.  redis_errors: failed GETs, GETs slower than redis_timeout_ms,
 * failed connects and handshakes, lost connections. */
void vfy_dns_get_stats(struct vfy_dns *dns, struct vfy_dns_stats *st_r);

/* --- pieces exposed for tests and fuzzing ------------------------------ */

/* Parse a wire-format domain name (uncompressed) at p[0..len) into dotted
 * lower-case text without the trailing dot ("." for the root).  Returns the
 * bytes used, or -1. */
int vfy_dns_name_from_wire(const uint8_t *p, size_t len, char *out, size_t outlen);

/* The negative-answer TTL from a DNS response packet: min(SOA TTL, SOA
 * MINIMUM) of the first SOA in the authority section.  -1 if none or the
 * packet is malformed (compression loops and overruns included). */
int64_t vfy_dns_packet_negative_ttl(const uint8_t *pkt, size_t len);

/* Order SRV records per RFC 2782 (priority, then weighted random);
 * rnd() returns a uniform value in [0, n). */
void vfy_dns_srv_order(struct vfy_srv *srv, size_t n, unsigned (*rnd)(unsigned n));

const char *vfy_dns_result_str(enum vfy_dns_result r);
const char *vfy_dns_status_str(enum vfy_dns_status s);

/*
 * The verifier (vfy_check.c: CA store, CT log list, resolver) and steps 5-9
 * for one chain and author domain, asynchronously on the libev loop: SRV
 * (5), name binding (6), DANE (7), PKIX (8) and Certificate Transparency
 * (9).  Verdicts of steps 5-9 for (chain fingerprint, F) are cached in
 * memory until the earliest of the DNS TTLs used, the chain's first
 * notAfter and cache_lifetime; temporary failures are never cached.
 */
/* Zero value VFY_UNCHECKED: a verdict nobody filled in fails closed. */
enum vfy_result {
	VFY_UNCHECKED = 0,
	VFY_PASS,
	VFY_PERMFAIL,	/* -> authentication_failed */
	VFY_TEMPFAIL,	/* -> service_unavailable */
};

/* The step that decided (the last one run on PASS). */
enum vfy_step {
	VFY_STEP_NONE = 0,
	VFY_STEP_SIG,		/* 3 */
	VFY_STEP_FROM,		/* 4 */
	VFY_STEP_SRV,		/* 5: missing, ".", bogus, SERVFAIL, timeout */
	VFY_STEP_SRV_INSECURE,	/* 5: answer not DNSSEC-signed */
	VFY_STEP_NAME,		/* 6 */
	VFY_STEP_DANE,		/* 7 */
	VFY_STEP_PKIX,		/* 8 */
	VFY_STEP_CT,		/* 9 */
	VFY_STEP_CHAIN,		/* 2: no such chain (illegal_parameter) */
	VFY_STEP_COUNT
};

struct vfy_verdict {
	enum vfy_result result;
	enum vfy_step step;
	char why[256];
	const char *trust;	/* static: "dane-ee" | "dane-ta" | "pkix-ee" | "pkix+ct"; "" unless PASS */
	char matched_name[256];	/* SAN that matched: D, a wildcard, or "_smtpsec.F" */
	char target[256];	/* SRV target D used */
	uint16_t port;		/* its port P */
	int tlsa_usage;		/* usage of the matching TLSA record, -1 none */
	unsigned dns_lookups;	/* lookups this check made (0 when cached) */
	int cached;		/* 1 when the verdict came from the chain cache */
	uint32_t ttl;		/* seconds the verdict may be reused (PASS/PERMFAIL) */
};

/* Step 9 as a function, so the CT module plugs in here (verify/vfy_ct).
 * issuer is the leaf's issuer on the validated path (whose SPKI the SCTs
 * are signed over).  Returns 0 when the leaf carries enough valid SCTs,
 * -1 with why when it does not (the sender's fault: permanent), -2 with
 * why when the check cannot run here (no usable log list: temporary). */
typedef int vfy_ct_fn(void *arg, const struct vfy_chain *chain, const struct vfy_cert *issuer,
    time_t now, unsigned min_scts, char *why, size_t whylen);

/* DNS seam: the gateway uses vfy_dns; unit tests inject answers. */
typedef struct vfy_dns_query *vfy_lookup_fn(void *arg, const char *name,
    uint16_t qtype, vfy_dns_cb *cb, void *cbarg);
typedef void vfy_lookup_cancel_fn(void *arg, struct vfy_dns_query **q_p);

struct vfy_options {
	const char *ca_file;		/* PEM bundle for PKIX; NULL: PKIX fails temporarily */
	const char *ct_log_list;	/* log_list.json v3: step 9 (unless ct_check is set) */
	unsigned ct_min_scts;		/* 0 = 1 */
	unsigned cache_lifetime;	/* seconds; 0 = 600 */
	size_t cache_entries;		/* 0 = 4096 */
	struct vfy_dns_options dns;	/* ignored when lookup is set */
	/* optional seams */
	vfy_ct_fn *ct_check;		/* a seam for tests; NULL: the ct_log_list, and
					 * without one step 9 fails closed, temporarily */
	void *ct_arg;
	vfy_lookup_fn *lookup;		/* NULL: a vfy_dns resolver is created */
	vfy_lookup_cancel_fn *lookup_cancel;
	void *lookup_arg;
};

struct vfy_stats {
	uint64_t cache_hits, cache_misses, cache_entries;	/* verdict cache */
	size_t ct_logs;			/* logs in the CT log list */
};

typedef void vfy_check_cb(void *arg, const struct vfy_verdict *verdict);

/* Create the verifier on loop: loads ca_file and ct_log_list, starts the
 * resolver.  Returns 0, or -1 with a reason in err. */
int vfy_init(struct vfy **v_r, struct ev_loop *loop, const struct vfy_options *opt,
    char *err, size_t errlen);
/* SIGHUP: reload the CA store from ca_file (NULL: the one from init) and
 * the CT log list from ct_log_list (NULL: keep it), and empty the
 * verdict cache.  Both load before either is swapped: on error the old
 * ones stay; -1, err names the file.  A list that loads becomes step 9's
 * even when init had none (unless ct_check was set). */
int vfy_reload(struct vfy *v, const char *ca_file, const char *ct_log_list, char *err,
    size_t errlen);
/* Cancels nothing: every check must have ended or been cancelled. */
void vfy_deinit(struct vfy **v_p);

/* Steps 5-9 for chain and author domain F (lower-case A-labels) at
 * verification time now.  The chain is borrowed and must live until the
 * callback ran or the check was cancelled.  The callback never runs before
 * this returns; the handle is freed after it ran.  NULL only if F is not a
 * usable domain name (then no callback). */
struct vfy_check *vfy_check_start(struct vfy *v, const struct vfy_chain *chain,
    const char *f, time_t now, vfy_check_cb *cb, void *arg);
/* Cancel a check whose callback has not run; sets *c_p to NULL. */
void vfy_check_cancel(struct vfy_check **c_p);

void vfy_get_stats(const struct vfy *v, struct vfy_stats *st_r);
/* The resolver (NULL when a lookup seam is used), e.g. for its stats. */
struct vfy_dns *vfy_get_dns(struct vfy *v);

const char *vfy_result_str(enum vfy_result r);
const char *vfy_step_str(enum vfy_step s);

/* Step 7-9 decision for one TLSA answer, without DNS: exposed for the CLI
 * and tests.  ans == NULL means "no TLSA constraint". */
void vfy_check_after_tlsa(const struct vfy_pkix *pkix, vfy_ct_fn *ct, void *ct_arg,
    unsigned min_scts, const struct vfy_chain *chain, time_t now,
    const struct vfy_dns_answer *ans, struct vfy_verdict *v_r);

/* The ClientHello's certificate chains (SMTPSEC.md 2.2), parsed once per
 * session.  A chain that does not parse is kept with its reason: an Email
 * naming it fails step 3. */
struct vfy_chains;
struct vfy_chains *vfy_chains_new(size_t n);
/* Chain i from n DER certificates, leaf first (copied). */
void vfy_chains_set(struct vfy_chains *cs, size_t i, const uint8_t *const *der, const size_t *len,
    size_t n);
void vfy_chains_free(struct vfy_chains **cs_p);

/* The Email's head fields the verification needs (SMTPSEC.md 2.3). */
struct vfy_email_head {
	uint32_t chain_index;
	uint16_t algorithm;
	const uint8_t *signature;	/* borrowed during vfy_email_begin */
	size_t signature_len;
};

struct vfy_email;
typedef void vfy_email_cb(void *arg, struct vfy_email *e);

/* Start one Email.  v NULL: steps 5-9 are skipped (the gateway's test mode
 * --insecure-skip-chain-checks; trust "unverified").  chains is borrowed
 * until the Email ends. */
struct vfy_email *vfy_email_begin(struct vfy *v, const struct vfy_chains *chains,
    const struct vfy_email_head *head);
/* The next bytes of the message (step 3 runs as they arrive). */
void vfy_email_update(struct vfy_email *e, const uint8_t *p, size_t n);
/* The whole message (what update was given, for step 4).  Returns 1 when
 * the verdict is known now (steps 2-4 decided, or v was NULL), 0 when cb
 * gets it later from the loop (never before this returns). */
int vfy_email_end(struct vfy_email *e, const uint8_t *msg, size_t len, time_t now,
    vfy_email_cb *cb, void *arg);
/* vfy_email_end in two halves, for smtpsec-verify, which reports steps
 * 2-4 before it sets up a resolver or a verifier.  vfy_email_local: steps
 * 2-4 (no DNS, no CA file); 1 when they decided (a failure: the verdict),
 * 0 when they passed (the author domain is known).  vfy_email_check:
 * steps 5-9 for the author domain f (NULL: the one step 4 found) with v
 * (NULL: skipped, trust "unverified"); returns as vfy_email_end. */
int vfy_email_local(struct vfy_email *e, const uint8_t *msg, size_t len);
int vfy_email_check(struct vfy_email *e, struct vfy *v, const char *f, time_t now,
    vfy_email_cb *cb, void *arg);
/* The verdict (result, step, reason, trust, matched target and name) and
 * the author (step 4; domain "" before it passed).  Valid until free. */
const struct vfy_verdict *vfy_email_verdict(const struct vfy_email *e,
    const struct vfy_from **from_r);
/* Free; an outstanding check is cancelled (no callback). */
void vfy_email_free(struct vfy_email **e_p);

/* The DNS cache (vfy_cache.c, SMTPSEC.md 9).  The fleet's key seals what
 * goes into Redis; its public name (16 hex digits of HMAC-SHA256(key, a
 * label)) lets gateways find one with another key without revealing it. */
#define VFY_CACHE_KEY_LEN	32
void vfy_cache_key_id(const uint8_t mac_key[VFY_CACHE_KEY_LEN], char out[17]);
/* The host's cache in shared memory, created before the workers fork and
 * given to each in vfy_dns_options.shcache.  slots: rounded down to a power
 * of two, at least 64.  NULL on failure. */
struct vfy_shcache *vfy_shcache_new(size_t slots);

/* Outside an Email (vfy_tool.c).  Load everything local opt names
 * (ca_file, ct_log_list, the DNS trust anchor) once and drop it: refuse a
 * start with a reason instead of running with a hole.  0, or -1 with the
 * reason. */
int vfy_preflight(const struct vfy_options *opt, char *err, size_t errlen);
/* One file as the verifier loads it: 0 with its counts (optional: CA
 * certificates; logs, and those whose SCTs can count), or -1 with the
 * reason, which names the file. */
int vfy_ca_file_check(const char *path, size_t *n_r, char *err, size_t errlen);
int vfy_ct_log_list_check(const char *path, size_t *n_r, size_t *usable_r, char *err,
    size_t errlen);

/* Step 9 alone (SMTPSEC.md 4.9, smtpsec-verify --ct-only), without DNS or
 * a path: the leaf's issuer is the sent certificate whose subject is the
 * leaf's issuer name.  ct_log_list NULL or not loadable: no log counts.
 * 0 with valid (SCTs from distinct logs that count) and every SCT, or -1
 * with valid -1 (the chain lacks the leaf's issuer) or -2 (a malformed
 * leaf). */
#define VFY_CT_ONLY_SCTS	16
struct vfy_ct_only {
	int valid;
	size_t n_logs;			/* logs in the list */
	size_t n_scts;
	struct {
		char log[128];		/* its description, or "unknown log" */
		uint64_t timestamp_ms;
		const char *why;	/* static: "ok" or why it does not count */
	} sct[VFY_CT_ONLY_SCTS];
};
int vfy_ct_only(const struct vfy_chain *chain, const char *ct_log_list, time_t at,
    struct vfy_ct_only *r);

/* Steps 6 and 8 alone (smtpsec-verify --pkix-only; what t_limbo feeds
 * x509-limbo through), as vfy_check runs them for a dNSName match, without
 * DNS: the leaf names host (dNSName only, never the CN), and a path from
 * the leaf to a CA of ca_file validates at `at`.  Both run.  0 with r, or
 * -1 when ca_file does not load (err). */
struct vfy_pkix_only {
	int named;			/* step 6 */
	size_t n_ca;			/* certificates in ca_file */
	int valid;			/* step 8: 0 a path, else why */
	const char *why;
	size_t n;			/* the path, leaf first */
	int sent[VFY_CHAIN_MAX_CERTS + 1];	/* index in the chain, -1: ca_file */
	char subject[VFY_CHAIN_MAX_CERTS + 1][256];	/* "CN=a, O=b" */
};
int vfy_pkix_only(const struct vfy_chain *chain, const char *host, const char *ca_file, time_t at,
    struct vfy_pkix_only *r, char *err, size_t errlen);

#endif
