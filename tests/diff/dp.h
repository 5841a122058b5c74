/*
 * dp: a differential oracle for SMTPSEC.md 4 steps 6-8 (name binding, DANE,
 * PKIX).  dp_gen.c turns a byte stream into a random scenario (a PKI made
 * in memory with OpenSSL, the chain a sender would send, a TLSA RRset);
 * dp_oracle.c runs our verdict (vfy_chain_has_dns/srvname +
 * vfy_check_after_tlsa) and OpenSSL's (X509_verify_cert with its DANE
 * support) on it and compares.  Step 9 (CT) is out of scope here: the
 * oracle passes a CT hook that always accepts; CT has its own tests.
 *
 * OpenSSL lacks SRVName (RFC 4985), so a leaf bound only by SRVName and
 * SRVName name constraints are judged by a small check of our own
 * (dp_oracle.c) on top of OpenSSL's path result.
 *
 * Test code only: linked into tests/diff/ binaries and the
 * fuzz_dane_pkix target, never into the gateway.
 */
#ifndef DP_H
#define DP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define DP_MAX_CERTS	12	/* root + CAs + leaf */
#define DP_MAX_SENT	9	/* after the leaf (vfy_chain holds 10) */
#define DP_MAX_TLSA	4
#define DP_MAX_NAMES	4

/* Byte source: the fuzzer's input (then zeros), or a PRNG from a seed.
 * Every byte handed out is recorded, so a seeded scenario can be written
 * out as a fuzzer input that rebuilds it exactly. */
struct dp_src {
	const uint8_t *in;
	size_t in_len, off;
	uint64_t state;		/* PRNG when in == NULL */
	uint8_t rec[4096];
	size_t n_rec;
};

void dp_src_bytes(struct dp_src *s, const uint8_t *in, size_t len);
void dp_src_seed(struct dp_src *s, uint64_t seed);

/* Scenario shapes: random, or one of the four cases. */
enum dp_shape {
	DP_SHAPE_RANDOM = 0,
	DP_SHAPE_U0_APPENDED,	/* leaf<-Y, TLSA 0 names sibling X, sent leaf,Y,X */
	DP_SHAPE_NC_ABOVE,	/* name constraints on a CA above the issuer */
	DP_SHAPE_SHUFFLED,	/* a valid chain in shuffled order */
	DP_SHAPE_U0_ROOT,	/* TLSA 0 names the store root, root not sent */
	DP_SHAPE_COUNT
};

/* Tags: what a scenario contains; results are counted per tag. */
enum dp_tag {
	DP_T_PLAIN, DP_T_SHUFFLED, DP_T_EXTRA, DP_T_MISSING, DP_T_ROOT_SENT,
	DP_T_SIBLING, DP_T_REKEY, DP_T_RENEWED, DP_T_FAKE_ROOT,
	DP_T_NC_DNS, DP_T_NC_SRV, DP_T_NC_ABOVE, DP_T_NC_ROOT,
	DP_T_SAN_WILD, DP_T_SRV_ONLY, DP_T_SAN_EXTRA, DP_T_NO_NAME,
	DP_T_TLSA_NONE, DP_T_TLSA_U0, DP_T_TLSA_U1, DP_T_TLSA_U2, DP_T_TLSA_U3,
	DP_T_TLSA_UNUSABLE, DP_T_TLSA_OFFPATH,
	DP_T_EXPIRED, DP_T_NOTYET, DP_T_BOUNDARY, DP_T_WRONG_SIG,
	DP_T_CA_FALSE, DP_T_NO_BC, DP_T_KU_NO_CERTSIGN, DP_T_PATHLEN,
	DP_T_LEAF_KU, DP_T_EKU,
	DP_T_COUNT
};
const char *dp_tag_name(enum dp_tag t);

#define DP_KU_DS	0x01	/* digitalSignature */
#define DP_KU_KE	0x02	/* keyEncipherment */
#define DP_KU_KCS	0x04	/* keyCertSign */
#define DP_KU_CRL	0x08	/* cRLSign */

struct dp_cspec {
	int parent;		/* issuer spec index, -1: self-signed */
	int key;		/* key pool index of the subject key */
	int sign_key;		/* key that signs (normally the parent's) */
	int akid_key;		/* key whose id is the AKID, -1: none */
	char cn[64];
	int bc;			/* 0 absent, 1 CA:TRUE, 2 CA:FALSE */
	int pathlen;		/* -1 none */
	int ku;			/* -1 absent, else DP_KU_* */
	int eku;		/* 0 absent, 1 serverAuth, 2 clientAuth, 3 both */
	time_t nb, na;
	/* name constraints (CAs) */
	int n_pdns, n_xdns, n_psrv, n_xsrv;
	const char *pdns[DP_MAX_NAMES], *xdns[DP_MAX_NAMES];
	const char *psrv[DP_MAX_NAMES], *xsrv[DP_MAX_NAMES];
	/* subjectAltName (leaf) */
	int n_dns, n_srv;
	const char *dns[DP_MAX_NAMES], *srv[DP_MAX_NAMES];
};

struct dp_tspec {
	int usage, selector, mtype;
	int target;		/* spec index it names, -1: nothing */
	int bad_len;		/* digest cut short: unusable */
};

struct dp_scn {
	enum dp_shape shape;
	int n;				/* specs; 0 is the store root */
	struct dp_cspec c[DP_MAX_CERTS];
	int leaf;
	int n_sent;
	int sent[DP_MAX_SENT];		/* spec indices after the leaf */
	int n_tlsa;
	struct dp_tspec t[DP_MAX_TLSA];
	uint8_t nonce[8];		/* for records that name nothing */
	const char *d, *f;		/* SRV target D, author domain F */
	char buf[2][64];		/* names made for this scenario */
	time_t now;
	int tag[DP_T_COUNT];
};

/* Draw a scenario from the source (shape < 0: drawn too). */
void dp_gen(struct dp_src *s, int shape, struct dp_scn *scn_r);

/* A scenario made into certificates.  With base == NULL, as the scenario
 * says; with base, "OpenSSL's view": the same certificates (shared with
 * base) except that CAs with SRVName name constraints are made again
 * without them, since OpenSSL cannot evaluate those (dp_oracle.c checks
 * them itself). */
struct dp_mat {
	void *x[DP_MAX_CERTS];		/* X509 *, owned */
	uint8_t *der[DP_MAX_CERTS];	/* owned */
	size_t der_len[DP_MAX_CERTS];
	uint8_t *spki[DP_MAX_CERTS];	/* owned */
	size_t spki_len[DP_MAX_CERTS];
	uint8_t tlsa[DP_MAX_TLSA][64];	/* record data (mtype 0: in tlsa_full) */
	uint8_t *tlsa_full[DP_MAX_TLSA];	/* owned */
	size_t tlsa_len[DP_MAX_TLSA];
	const uint8_t *tlsa_data[DP_MAX_TLSA];	/* points at one of the two */
};
int dp_mat_build(const struct dp_scn *scn, const struct dp_mat *base, struct dp_mat *m_r);
void dp_mat_free(struct dp_mat *m);

/* The two verdicts and the comparison. */
struct dp_result {
	int ours_pass, ossl_pass;	/* 1 pass, 0 permanent failure */
	char ours_why[300], ossl_why[300];
	int skipped;			/* -1: harness error, nothing compared */
};
/* Returns 0 when the verdicts agree, 1 when they differ (the scenario,
 * its PEMs, TLSA records, names and both verdicts are printed to report
 * when not NULL), -1 on a harness error (why in r). */
int dp_compare(const struct dp_scn *scn, struct dp_result *r, FILE *report);

#endif
