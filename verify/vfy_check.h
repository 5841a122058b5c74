/*
 * vfy_check: the verifier (CA store, CT log list, resolver) and SMTPSEC.md
 * 4 steps 5-9 for one chain and author domain, asynchronously on the libev
 * loop: SRV (5), name binding (6), DANE (7), PKIX (8) and Certificate
 * Transparency (9).  Steps 2-4 and their order are vfy_email's (vfy.h).
 *
 * Verdicts of steps 5-9 for (chain fingerprint, F) are cached in memory
 * until the earliest of the DNS TTLs used, the chain's first notAfter and
 * cache_lifetime; temporary failures are never cached.
 *
 * Nothing here logs; every verdict carries a short reason.
 */
#ifndef VFY_CHECK_H
#define VFY_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "verify/vfy_dns.h"
#include "verify/vfy_from.h"
#include "verify/vfy_sig.h"
#include "verify/vfy_x509.h"

struct ev_loop;
struct vfy;
struct vfy_check;
struct vfy_pkix;

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

#endif
