/*
 * smtpsec-ctlog: a test Certificate Transparency log and CA finisher.
 *
 * Turns a precertificate (RFC 6962 3.1: a certificate carrying the critical
 * poison extension 1.3.6.1.4.1.11129.2.4.3, made by openssl with the test
 * CA) into the final certificate: one SCT per log key is signed over the
 * precertificate entry (RFC 6962 3.2: version, signature_type, timestamp,
 * entry_type precert_entry, SHA-256 of the issuer's SubjectPublicKeyInfo, the
 * TBSCertificate without the poison extension, no extensions), the poison
 * extension is replaced by the SCT list extension 1.3.6.1.4.1.11129.2.4.2,
 * and the TBSCertificate is signed again with the CA's P-256 key.
 *
 * Test-only code: it is the counterpart the verifier (verify/vfy_ct.c) is
 * checked against, so it shares none of its CT code; the tests also check its
 * output with openssl (x509 -text shows the SCTs, verify checks the CA
 * signature).
 *
 *   smtpsec-ctlog --precert PRE.pem --issuer CA.pem --ca-key CA.key
 *                 --log-key LOG.key [--log-key LOG2.key ...]
 *                 [--timestamp MS] [--corrupt N] --out CERT.pem
 *
 * --corrupt N flips one byte of the Nth SCT's signature (1-based), for
 * negative tests.  Prints one line per SCT: "sct log_id=HEX timestamp=MS".
 * Exit 0, 1 on any error (with a message on stderr), 64 on usage errors.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verify/vfy_der.h"
#include "tests/lib/tutil.h"

#define MAX_LOGS 8
#define MAX_DER 16384

static const uint8_t oid_poison[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03 };
static const uint8_t oid_sctlist[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02 };
static const uint8_t oid_ecdsa_sha256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };

static void
die(const char *msg, const char *arg)
{
	fprintf(stderr, "smtpsec-ctlog: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(1);
}

/* First PEM certificate of a file, as DER. */
static size_t
load_cert(const char *path, uint8_t *der, size_t cap)
{
	size_t len;
	uint8_t *pem = tutil_read_file(path, &len);
	int n;

	if (pem == NULL)
		die("cannot read", path);
	n = wc_CertPemToDer(pem, (int)len, der, (int)cap, CERT_TYPE);
	free(pem);
	if (n <= 0)
		die("not a PEM certificate", path);
	return (size_t)n;
}

static void
load_ecc_key(const char *path, ecc_key *k)
{
	uint8_t der[MAX_DER];
	size_t len;
	uint8_t *pem = tutil_read_file(path, &len);
	word32 idx = 0;
	int n;

	if (pem == NULL)
		die("cannot read", path);
	n = wc_KeyPemToDer(pem, (int)len, der, sizeof(der), NULL);
	free(pem);
	if (n <= 0 || wc_ecc_init(k) != 0 || wc_EccPrivateKeyDecode(der, &idx, k, (word32)n) != 0)
		die("not an EC private key in PEM", path);
	if (wc_ecc_get_curve_id(k->idx) != ECC_SECP256R1)
		die("only P-256 keys are supported", path);
	/* a private key read alone has no public point: derive it */
	if (wc_ecc_make_pub(k, NULL) != 0)
		die("cannot derive the public key", path);
}

/* Contents of the SubjectPublicKeyInfo of a certificate (whole TLV). */
static void
cert_spki(const uint8_t *cert, size_t len, const uint8_t **spki, size_t *spki_len)
{
	struct vfy_der in = vfy_der_view(cert, len), c, tbs;
	struct vfy_der_tlv t, f;
	int i;

	if (vfy_der_expect(&in, VFY_DER_SEQUENCE, &t) < 0)
		die("bad certificate", NULL);
	c = vfy_der_inner(&t);
	if (vfy_der_expect(&c, VFY_DER_SEQUENCE, &t) < 0)
		die("bad certificate", NULL);
	tbs = vfy_der_inner(&t);
	if (vfy_der_optional(&tbs, VFY_DER_CTX_C(0), &f) < 0)
		die("bad certificate", NULL);
	/* serial, signature, issuer, validity, subject, then the SPKI */
	for (i = 0; i < 5; i++)
		if (vfy_der_next(&tbs, &f) < 0)
			die("bad certificate", NULL);
	if (vfy_der_expect(&tbs, VFY_DER_SEQUENCE, &f) < 0)
		die("bad certificate", NULL);
	*spki = f.raw;
	*spki_len = f.raw_len;
}

/*
 * out = tbs with the extension whose OID is `oid` replaced by `repl` (a whole
 * Extension TLV), or removed when repl is NULL.  Lengths re-encoded.
 */
static size_t
tbs_swap_ext(const uint8_t *tbs, size_t tbs_len, const uint8_t *oid, size_t oid_len,
    const uint8_t *repl, size_t repl_len, uint8_t *out, size_t cap)
{
	struct vfy_der in = vfy_der_view(tbs, tbs_len), body, exts;
	struct vfy_der_tlv t, f, x3, seq, e, o;
	uint8_t inner[MAX_DER];
	size_t in_len = 0, head_len, x3_len, body_len, pos;
	const uint8_t *head;
	int found = 0;

	if (vfy_der_expect(&in, VFY_DER_SEQUENCE, &t) < 0)
		die("bad TBSCertificate", NULL);
	body = vfy_der_inner(&t);
	head = body.p;
	for (;;) {
		struct vfy_der save = body;

		if (vfy_der_next(&body, &f) < 0)
			die("TBSCertificate has no extensions", NULL);
		if (f.tag == VFY_DER_CTX_C(3)) {
			body = save;
			break;
		}
	}
	head_len = (size_t)(body.p - head);
	if (vfy_der_expect(&body, VFY_DER_CTX_C(3), &x3) < 0 || body.len != 0)
		die("bad extensions", NULL);
	exts = vfy_der_inner(&x3);
	if (vfy_der_expect(&exts, VFY_DER_SEQUENCE, &seq) < 0)
		die("bad extensions", NULL);
	exts = vfy_der_inner(&seq);
	while (exts.len > 0) {
		struct vfy_der ex;
		const uint8_t *src;
		size_t src_len;

		if (vfy_der_expect(&exts, VFY_DER_SEQUENCE, &e) < 0)
			die("bad extension", NULL);
		ex = vfy_der_inner(&e);
		if (vfy_der_expect(&ex, VFY_DER_OID, &o) < 0)
			die("bad extension", NULL);
		src = e.raw;
		src_len = e.raw_len;
		if (vfy_der_oid_eq(&o, oid, oid_len)) {
			found = 1;
			src = repl;
			src_len = repl != NULL ? repl_len : 0;
		}
		if (in_len + src_len > sizeof(inner))
			die("extensions too large", NULL);
		if (src_len > 0)
			memcpy(inner + in_len, src, src_len);
		in_len += src_len;
	}
	if (!found)
		die("the extension to replace is not in the certificate", NULL);
	x3_len = vfy_der_header_len(in_len) + in_len;
	body_len = head_len + (in_len > 0 ? vfy_der_header_len(x3_len) + x3_len : 0);
	if (vfy_der_header_len(body_len) + body_len > cap)
		die("certificate too large", NULL);
	pos = vfy_der_put_header(out, VFY_DER_SEQUENCE, body_len);
	memcpy(out + pos, head, head_len);
	pos += head_len;
	if (in_len > 0) {
		pos += vfy_der_put_header(out + pos, VFY_DER_CTX_C(3), x3_len);
		pos += vfy_der_put_header(out + pos, VFY_DER_SEQUENCE, in_len);
		memcpy(out + pos, inner, in_len);
		pos += in_len;
	}
	return pos;
}

static void
put_u16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void
sha256(const uint8_t *p, size_t len, uint8_t out[32])
{
	if (wc_Sha256Hash(p, (word32)len, out) != 0)
		die("sha256 failed", NULL);
}

static size_t
ecdsa_sign(ecc_key *k, WC_RNG *rng, const uint8_t *data, size_t len, uint8_t *sig, size_t cap)
{
	uint8_t h[32];
	word32 sl = (word32)cap;

	sha256(data, len, h);
	if (wc_ecc_sign_hash(h, sizeof(h), sig, &sl, rng, k) != 0)
		die("ECDSA signing failed", NULL);
	return sl;
}

/*
 * One SCT (RFC 6962 3.2) from the log with key k over the precertificate
 * entry; writes the serialized SCT to out, returns its length.
 */
static size_t
make_sct(ecc_key *k, WC_RNG *rng, uint64_t ts, const uint8_t ikh[32], const uint8_t *pre_tbs,
    size_t pre_len, int corrupt, uint8_t *out, size_t cap, uint8_t log_id[32])
{
	uint8_t spki[256], sig[128];
	static uint8_t signed_data[MAX_DER + 64];
	size_t n = 0, sl;
	int spki_len;

	spki_len = wc_EccPublicKeyToDer(k, spki, sizeof(spki), 1);
	if (spki_len <= 0)
		die("cannot encode the log key", NULL);
	sha256(spki, (size_t)spki_len, log_id);
	if (pre_len > 0xffffff || pre_len + 48 > sizeof(signed_data))
		die("TBSCertificate too large", NULL);
	signed_data[n++] = 0;			/* v1 */
	signed_data[n++] = 0;			/* certificate_timestamp */
	put_u64(signed_data + n, ts);
	n += 8;
	put_u16(signed_data + n, 1);		/* precert_entry */
	n += 2;
	memcpy(signed_data + n, ikh, 32);
	n += 32;
	signed_data[n++] = (uint8_t)(pre_len >> 16);
	signed_data[n++] = (uint8_t)(pre_len >> 8);
	signed_data[n++] = (uint8_t)pre_len;
	memcpy(signed_data + n, pre_tbs, pre_len);
	n += pre_len;
	put_u16(signed_data + n, 0);		/* CtExtensions */
	n += 2;
	sl = ecdsa_sign(k, rng, signed_data, n, sig, sizeof(sig));
	if (corrupt)
		sig[sl / 2] ^= 0x01;
	if (1 + 32 + 8 + 2 + 2 + 2 + sl > cap)
		die("SCT too large", NULL);
	n = 0;
	out[n++] = 0;
	memcpy(out + n, log_id, 32);
	n += 32;
	put_u64(out + n, ts);
	n += 8;
	put_u16(out + n, 0);
	n += 2;
	out[n++] = 4;				/* sha256 */
	out[n++] = 3;				/* ecdsa */
	put_u16(out + n, sl);
	n += 2;
	memcpy(out + n, sig, sl);
	return n + sl;
}

static void
usage(void)
{
	fprintf(stderr, "usage: smtpsec-ctlog --precert PRE.pem --issuer CA.pem --ca-key CA.key "
	    "--log-key LOG.key [--log-key ...] [--timestamp MS] [--corrupt N] --out CERT.pem\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	const char *pre_path = NULL, *iss_path = NULL, *ca_path = NULL, *out_path = NULL;
	const char *log_path[MAX_LOGS];
	int n_logs = 0, corrupt = 0, i;
	uint64_t ts = 0;
	static uint8_t pre[MAX_DER], iss[MAX_DER], pre_tbs[MAX_DER], fin_tbs[MAX_DER], cert[MAX_DER];
	static uint8_t list[MAX_LOGS * 200 + 2], ext[MAX_LOGS * 200 + 64];
	static char pem[MAX_DER * 2];
	size_t pre_len, iss_len, spki_len, pre_tbs_len, fin_len, list_len = 2, ext_len, pos, sl;
	const uint8_t *spki;
	uint8_t ikh[32], sig[128];
	struct vfy_der in, c;
	struct vfy_der_tlv t, tbs, alg;
	ecc_key ca, lk;
	WC_RNG rng;
	FILE *f;
	int pem_len;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			usage();
		if (strcmp(a, "--precert") == 0)
			pre_path = v;
		else if (strcmp(a, "--issuer") == 0)
			iss_path = v;
		else if (strcmp(a, "--ca-key") == 0)
			ca_path = v;
		else if (strcmp(a, "--out") == 0)
			out_path = v;
		else if (strcmp(a, "--log-key") == 0 && n_logs < MAX_LOGS)
			log_path[n_logs++] = v;
		else if (strcmp(a, "--timestamp") == 0)
			ts = strtoull(v, NULL, 10);
		else if (strcmp(a, "--corrupt") == 0)
			corrupt = atoi(v);
		else
			usage();
		i++;
	}
	if (pre_path == NULL || iss_path == NULL || ca_path == NULL || out_path == NULL || n_logs == 0)
		usage();
	if (ts == 0)	/* a minute ago: never "in the future" for the verifier */
		ts = (uint64_t)time(NULL) * 1000 - 60000;
	if (wc_InitRng(&rng) != 0)
		die("no RNG", NULL);

	pre_len = load_cert(pre_path, pre, sizeof(pre));
	iss_len = load_cert(iss_path, iss, sizeof(iss));
	cert_spki(iss, iss_len, &spki, &spki_len);
	sha256(spki, spki_len, ikh);
	load_ecc_key(ca_path, &ca);

	in = vfy_der_view(pre, pre_len);
	if (vfy_der_expect(&in, VFY_DER_SEQUENCE, &t) < 0)
		die("bad precertificate", pre_path);
	c = vfy_der_inner(&t);
	if (vfy_der_expect(&c, VFY_DER_SEQUENCE, &tbs) < 0 || vfy_der_expect(&c, VFY_DER_SEQUENCE, &alg) < 0)
		die("bad precertificate", pre_path);
	{
		struct vfy_der a = vfy_der_inner(&alg);
		struct vfy_der_tlv o;

		if (vfy_der_expect(&a, VFY_DER_OID, &o) < 0 || !vfy_der_oid_eq(&o, oid_ecdsa_sha256, sizeof(oid_ecdsa_sha256)))
			die("the precertificate must be signed with ecdsa-with-SHA256", pre_path);
	}

	/* the precertificate entry: TBS without the poison */
	pre_tbs_len = tbs_swap_ext(tbs.raw, tbs.raw_len, oid_poison, sizeof(oid_poison), NULL, 0,
	    pre_tbs, sizeof(pre_tbs));
	for (i = 0; i < n_logs; i++) {
		uint8_t id[32];
		char *hex;

		load_ecc_key(log_path[i], &lk);
		sl = make_sct(&lk, &rng, ts, ikh, pre_tbs, pre_tbs_len, corrupt == i + 1,
		    list + list_len + 2, sizeof(list) - list_len - 2, id);
		wc_ecc_free(&lk);
		put_u16(list + list_len, sl);
		list_len += 2 + sl;
		hex = tutil_tohex(id, 32);
		printf("sct log_id=%s timestamp=%llu%s\n", hex, (unsigned long long)ts,
		    corrupt == i + 1 ? " corrupted" : "");
		free(hex);
	}
	put_u16(list, list_len - 2);

	/* Extension { extnID, extnValue OCTET STRING { OCTET STRING list } } */
	{
		size_t oct_in = vfy_der_header_len(list_len) + list_len;
		size_t body = 2 + sizeof(oid_sctlist) + vfy_der_header_len(oct_in) + oct_in;

		pos = vfy_der_put_header(ext, VFY_DER_SEQUENCE, body);
		pos += vfy_der_put_header(ext + pos, VFY_DER_OID, sizeof(oid_sctlist));
		memcpy(ext + pos, oid_sctlist, sizeof(oid_sctlist));
		pos += sizeof(oid_sctlist);
		pos += vfy_der_put_header(ext + pos, VFY_DER_OCTET_STRING, oct_in);
		pos += vfy_der_put_header(ext + pos, VFY_DER_OCTET_STRING, list_len);
		memcpy(ext + pos, list, list_len);
		ext_len = pos + list_len;
	}
	fin_len = tbs_swap_ext(tbs.raw, tbs.raw_len, oid_poison, sizeof(oid_poison), ext, ext_len,
	    fin_tbs, sizeof(fin_tbs));

	/* Certificate { tbs, signatureAlgorithm, BIT STRING signature } */
	sl = ecdsa_sign(&ca, &rng, fin_tbs, fin_len, sig, sizeof(sig));
	{
		size_t bits = 1 + sl;
		size_t body = fin_len + alg.raw_len + vfy_der_header_len(bits) + bits;

		if (vfy_der_header_len(body) + body > sizeof(cert))
			die("certificate too large", NULL);
		pos = vfy_der_put_header(cert, VFY_DER_SEQUENCE, body);
		memcpy(cert + pos, fin_tbs, fin_len);
		pos += fin_len;
		memcpy(cert + pos, alg.raw, alg.raw_len);
		pos += alg.raw_len;
		pos += vfy_der_put_header(cert + pos, VFY_DER_BIT_STRING, bits);
		cert[pos++] = 0;
		memcpy(cert + pos, sig, sl);
		pos += sl;
	}
	pem_len = wc_DerToPem(cert, (word32)pos, (byte *)pem, sizeof(pem), CERT_TYPE);
	if (pem_len <= 0)
		die("PEM encoding failed", NULL);
	if ((f = fopen(out_path, "w")) == NULL || fwrite(pem, 1, (size_t)pem_len, f) != (size_t)pem_len ||
	    fclose(f) != 0)
		die("cannot write", out_path);
	wc_ecc_free(&ca);
	wc_FreeRng(&rng);
	return 0;
}
