/*
 * vfy_ct: Certificate Transparency for SMTPSEC.md 4 step 9: the embedded
 * SCT list of the leaf (RFC 6962 3.3, extension 1.3.6.1.4.1.11129.2.4.2),
 * each SCT verified over the precertificate entry (the TBSCertificate
 * without that extension, and SHA-256 of the issuer's SPKI) with its log's
 * key from a Chrome log_list.json v3, counted by Chrome's policy.
 */
#ifndef VFY_CT_H
#define VFY_CT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct vfy_chain;
struct vfy_cert;
struct vfy_ct_logs;

#define VFY_CT_MAX_SCTS 16

struct vfy_ct_sct {
	uint8_t log_id[32];
	uint64_t timestamp_ms;
	const char *log;	/* description from the list, or "unknown log" */
	const char *why;	/* "ok" (counted) or the reason it does not count */
};

struct vfy_ct_report {
	size_t n_scts;
	struct vfy_ct_sct sct[VFY_CT_MAX_SCTS];
	unsigned distinct_ok;	/* distinct logs with a counted SCT */
};

/* Load a log list; 0, or -1 with a reason. */
int vfy_ct_logs_load(const char *path, struct vfy_ct_logs **logs_r, char *err, size_t errlen);
/* The same from a buffer (not NUL-terminated); name is used in errors. */
int vfy_ct_logs_parse(const char *name, const char *text, size_t len, struct vfy_ct_logs **logs_r,
    char *err, size_t errlen);
void vfy_ct_logs_free(struct vfy_ct_logs **logs_p);
size_t vfy_ct_logs_count(const struct vfy_ct_logs *logs);
/* The logs whose SCTs can count at some time (qualified, usable, readonly,
 * retired): not pending, rejected or with an unreadable interval. */
size_t vfy_ct_logs_count_usable(const struct vfy_ct_logs *logs);

/* Check the embedded SCTs of leaf (DER) issued by the holder of
 * issuer_spki, at `now`.  Returns the number of distinct logs with a valid,
 * counted SCT (0 when none), or -1 when the leaf is malformed; report_r
 * (optional) lists every SCT with its verdict. */
int vfy_ct_check_leaf(const struct vfy_ct_logs *logs, const uint8_t *leaf, size_t leaf_len,
    const uint8_t *issuer_spki, size_t spki_len, time_t now, struct vfy_ct_report *report_r);

/* The step-9 hook of vfy_check (vfy_ct_fn): arg is a struct vfy_ct_logs;
 * issuer is the leaf's issuer on the validated path.  0 pass, -1 fail. */
int vfy_ct_chain_check(void *arg, const struct vfy_chain *chain, const struct vfy_cert *issuer,
    time_t now, unsigned min_scts, char *why, size_t whylen);

#endif
