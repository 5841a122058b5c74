/*
 * smtpsec-verify: run the gateway's verification steps (SMTPSEC.md 4 steps
 * 3-9) on one certificate chain, with the gateway's configuration, and
 * print each step's result and reason.  --pkix-only runs steps 6 and 8
 * alone (name binding for an SRV target, RFC 5280 path validation against a
 * CA file), without DNS: what tests/integration/t_limbo.sh feeds x509-limbo
 * through.
 *
 * Exit codes: 0 pass, 1 fail (the verdict, as grep's 1), and sysexits for
 * the rest: 64 usage, 66 an input file cannot be read, 69 no resolver,
 * 75 temporary failure (a verdict of tempfail), 78 configuration.
 */
#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/buf.h"
#include "base/hex.h"
#include "base/mem.h"
#include "base/cli.h"
#include "receiver/rcv_config.h"
#include "verify/vfy.h"
#include "wire/wire_alg.h"

#define EX_PASS		EX_OK
#define EX_FAIL		1		/* the chain or Email fails: a verdict */
#define MAX_INPUT	((size_t)1 << 31)	/* a chain or message file */

static int
usage(FILE *out, int code)
{
	fprintf(out,
	    "usage: smtpsec-verify [-c CONFIG] --chain FILE (--domain F | --message FILE\n"
	    "                      --signature HEX --algorithm NAME) [--at TIME] [--ct-only]\n"
	    "                      [--ct-log-list FILE] [--ca-file FILE] [--unbound-conf FILE]\n"
	    "                      [--trust-anchor FILE]\n"
	    "       smtpsec-verify --pkix-only --name HOST --ca-file FILE --chain FILE [--at TIME]\n"
	    "       smtpsec-verify --check-ct-log-list FILE\n"
	    "  --chain FILE        PEM certificates, leaf first\n"
	    "  --domain F          author domain (skips steps 3-4 unless --message is given)\n"
	    "  --message FILE      the signed message; with --signature HEX and --algorithm\n"
	    "                      NAME (ed25519, ed448, ecdsa_secp256r1_sha256,\n"
	    "                      ecdsa_secp384r1_sha384, ecdsa_secp521r1_sha512 or 0xNNNN)\n"
	    "  --at TIME           verification time: Unix seconds or RFC 3339 (default now)\n"
	    "  --ct-only           only the Certificate Transparency step (no DNS, no PKIX)\n"
	    "  --pkix-only         only steps 6 and 8 (no DNS): a dNSName for the SRV target\n"
	    "                      --name HOST, and the path to a CA of --ca-file\n"
	    "  --check-ct-log-list FILE  load FILE as the gateway loads ct_log_list: 0 when\n"
	    "                      it has a usable log, 1 when refused\n"
	    "  -c, --config FILE   take ca_file, ct_log_list, unbound_conf, trust_anchor_file,\n"
	    "                      ct_min_scts and [dns] timeout from a gateway configuration\n"
	    "                      (its [tls] section is not needed)\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       print the version\n"
	    "exit: 0 pass, 1 fail, 64 usage, 66 unreadable input, 69 no resolver,\n"
	    "      75 temporary failure, 78 configuration\n");
	return code;
}

/* --check-ct-log-list: FILE through the gateway's own loader; a list it
 * refuses, or one with no log that can count, is refused here (what
 * smtpsec-ctlist-update asks before it installs a list). */
static int
check_ct_log_list(const char *path)
{
	char err[512];
	size_t n, usable;

	if (vfy_ct_log_list_check(path, &n, &usable, err, sizeof(err)) < 0) {
		printf("ct log list: refused: %s\n", err);
		return EX_FAIL;
	}
	if (usable == 0) {
		printf("ct log list: refused: %s: no usable log (%zu logs with a valid id)\n", path, n);
		return EX_FAIL;
	}
	printf("ct log list: ok: %s: logs=%zu usable=%zu\n", path, n, usable);
	return EX_PASS;
}

static int
parse_alg(const char *s, uint16_t *code_r)
{
	char *end;
	unsigned long v;
	const struct wire_alg *a = wire_alg_by_name(s);

	if (a != NULL) {
		*code_r = a->code;
		return 0;
	}
	v = strtoul(s, &end, 0);
	if (*s == '\0' || *end != '\0' || v > 0xffff)
		return -1;
	*code_r = (uint16_t)v;
	return 0;
}

/* Unix seconds, or RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)". */
static int
parse_time(const char *s, time_t *t_r)
{
	struct tm tm;
	char *end;
	long long v;
	const char *p;
	int off = 0;

	v = strtoll(s, &end, 10);
	if (*s != '\0' && *end == '\0' && v >= 0) {
		*t_r = (time_t)v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%d", &tm);
	if (p == NULL || (*p != 'T' && *p != 't' && *p != ' '))
		return -1;
	p = strptime(p + 1, "%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int h, m;

		if (sscanf(p + 1, "%2d:%2d", &h, &m) != 2 || h > 23 || m > 59)
			return -1;
		off = (h * 60 + m) * 60 * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	*t_r = timegm(&tm) - off;
	return 0;
}

/* Print what the resolver says, then hand the answer on: the real
 * vfy_dns path with a window on it. */
struct tap {
	vfy_dns_cb *cb;
	void *arg;
};

static void
on_answer(void *arg, const struct vfy_dns_answer *a)
{
	struct tap *t = arg;
	vfy_dns_cb *cb = t->cb;
	void *cbarg = t->arg;

	printf("dns: %s %s: %s, %s%s%s (ttl %u)\n", a->qname,
	    a->qtype == VFY_DNS_T_SRV ? "SRV" : a->qtype == VFY_DNS_T_TLSA ? "TLSA" : "?",
	    vfy_dns_result_str(a->result), vfy_dns_status_str(a->status),
	    a->why && a->why[0] ? ": " : "", a->why ? a->why : "", (unsigned)a->ttl);
	for (size_t i = 0; i < a->n_srv; i++)
		printf("dns:   SRV %u %u %u %s\n", a->srv[i].priority, a->srv[i].weight,
		    a->srv[i].port, a->srv[i].target);
	for (size_t i = 0; i < a->n_tlsa; i++) {
		printf("dns:   TLSA %u %u %u ", a->tlsa[i].usage, a->tlsa[i].selector,
		    a->tlsa[i].mtype);
		for (size_t k = 0; k < a->tlsa[i].len && k < 64; k++)
			printf("%02x", a->tlsa[i].data[k]);
		printf("%s\n", a->tlsa[i].len > 64 ? "..." : "");
	}
	free(t);
	cb(cbarg, a);
}

static struct vfy_dns_query *
tap_lookup(void *arg, const char *name, uint16_t qtype, vfy_dns_cb *cb, void *cbarg)
{
	struct tap *t = mem_alloc(sizeof(*t));
	struct vfy_dns_query *q;

	t->cb = cb;
	t->arg = cbarg;
	q = vfy_dns_lookup(arg, name, qtype, on_answer, t);
	if (q == NULL)
		free(t);
	return q;
}

static void
tap_cancel(void *arg, struct vfy_dns_query **q_p)
{
	vfy_dns_cancel(q_p);	/* only on error paths; the tap leaks then */
}

struct outcome {
	int done;
	struct ev_loop *loop;
	struct vfy_verdict v;
};

static void
on_email(void *arg, struct vfy_email *e)
{
	struct outcome *o = arg;

	o->done = 1;
	ev_break(o->loop, EVBREAK_ALL);	/* the resolver keeps watchers running */
}

static void
print_verdict(const struct vfy_verdict *v)
{
	if (v->target[0])
		printf("target: %s port %u, name matched: %s\n", v->target, v->port, v->matched_name);
	if (v->tlsa_usage >= 0)
		printf("tlsa: usage %d matched\n", v->tlsa_usage);
	printf("result: %s at step %s: %s%s%s\n", vfy_result_str(v->result), vfy_step_str(v->step),
	    v->why, v->result == VFY_PASS ? ", smtp.cert=" : "", v->result == VFY_PASS ? v->trust : "");
	printf("dns lookups: %u\n", v->dns_lookups);
}

/* --pkix-only: steps 6 and 8 printed; the result is the gateway's (it
 * stops at the first failure). */
static int
pkix_only(const struct vfy_chain *chain, const char *host, const char *ca_file, time_t at)
{
	struct vfy_pkix_only r;
	char err[512];

	int rc = vfy_pkix_only(chain, host, ca_file, at, &r, err, sizeof(err));

	printf("step 6 name: %s: %s dNSName matches %s\n", r.named ? "pass" : "fail",
	    r.named ? "a" : "no", host);
	if (rc < 0) {
		fprintf(stderr, "smtpsec-verify: %s\n", err);
		return EX_NOINPUT;
	}
	printf("ca file: %zu certificate(s) in %s\n", r.n_ca, ca_file);
	if (r.valid == 0) {
		printf("step 8 pkix: pass: a path of %zu certificate(s)\n", r.n);
		for (size_t i = 0; i < r.n; i++) {
			if (r.sent[i] >= 0)
				printf("step 8 pkix:   %zu: chain[%d] %s\n", i, r.sent[i], r.subject[i]);
			else
				printf("step 8 pkix:   %zu: ca-file %s\n", i, r.subject[i]);
		}
	} else {
		printf("step 8 pkix: fail: %s\n", r.why);
	}
	if (!r.named || r.valid != 0) {
		printf("result: fail at step %s\n", !r.named ? "name" : "pkix");
		return EX_FAIL;
	}
	printf("result: pass\n");
	return EX_PASS;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "chain", required_argument, NULL, 'C' },
		{ "domain", required_argument, NULL, 'd' },
		{ "message", required_argument, NULL, 'm' },
		{ "signature", required_argument, NULL, 's' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ "at", required_argument, NULL, 't' },
		{ "ct-only", no_argument, NULL, 'T' },
		{ "pkix-only", no_argument, NULL, 'P' },
		{ "name", required_argument, NULL, 'n' },
		{ "ct-log-list", required_argument, NULL, 'L' },
		{ "ca-file", required_argument, NULL, 'A' },
		{ "unbound-conf", required_argument, NULL, 'u' },
		{ "trust-anchor", required_argument, NULL, 'k' },
		{ "check-ct-log-list", required_argument, NULL, 'K' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *chain_file = NULL, *domain = NULL, *msg_file = NULL,
	    *sig_hex = NULL, *alg_name = NULL, *ct_list = NULL, *ca_file = NULL,
	    *unbound_conf = NULL, *trust_anchor = NULL, *host = NULL, *check_list = NULL;
	int ct_only = 0, pkix = 0, c, rc;
	time_t at = time(NULL);
	static struct rcv_config cfg;
	char err[512];
	uint8_t *der[VFY_CHAIN_MAX_CERTS + 1], *text;
	size_t len[VFY_CHAIN_MAX_CERTS + 1], tl;
	int n;
	struct vfy_chain *chain = NULL;
	struct vfy_chains *cs = NULL;
	const char *why;
	uint16_t alg = 0;
	size_t sl = 0, ml = 0;
	uint8_t *sig = NULL, *msg = NULL;
	struct vfy_email *ve = NULL;
	const struct vfy_from *from = NULL;
	struct outcome out = { 0 };
	struct ev_loop *loop = NULL;
	struct vfy_options o;
	struct vfy *v = NULL;
	struct vfy_dns *dns = NULL;
	int ct_usable = 0;

	opterr = 0;	/* reported by cli_usage_error */
	while ((c = getopt_long(argc, argv, ":c:hV", lo, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'C': chain_file = optarg; break;
		case 'd': domain = optarg; break;
		case 'm': msg_file = optarg; break;
		case 's': sig_hex = optarg; break;
		case 'a': alg_name = optarg; break;
		case 't':
			if (parse_time(optarg, &at) < 0)
				return cli_usage_error("smtpsec-verify", "bad --at time: '%s' (Unix seconds "
				    "or RFC 3339)", optarg);
			break;
		case 'T': ct_only = 1; break;
		case 'P': pkix = 1; break;
		case 'n': host = optarg; break;
		case 'L': ct_list = optarg; break;
		case 'A': ca_file = optarg; break;
		case 'u': unbound_conf = optarg; break;
		case 'k': trust_anchor = optarg; break;
		case 'K': check_list = optarg; break;
		case 'h': return usage(stdout, EX_PASS);
		case 'V': return cli_version("smtpsec-verify");
		default:	/* ':' or '?' */
			return cli_usage_error("smtpsec-verify", "%s", cli_bad_option(c, argv, err,
			    sizeof(err)));
		}
	}
	if (check_list != NULL) {
		if (optind != argc || argc > 3)
			return usage(stderr, EX_USAGE);
		return check_ct_log_list(check_list);
	}
	if (optind != argc || chain_file == NULL ||
	    (domain == NULL && msg_file == NULL && !ct_only && !pkix) ||
	    (msg_file != NULL && (sig_hex == NULL || alg_name == NULL)) ||
	    (pkix && (host == NULL || ct_only || domain != NULL || msg_file != NULL)) ||
	    (!pkix && host != NULL))
		return usage(stderr, EX_USAGE);
	rcv_config_defaults(&cfg);
	/* any step, with any gateway configuration: its [tls] is not needed */
	if (config != NULL && rcv_config_load(config, &cfg, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "smtpsec-verify: %s\n", err);
		return EX_CONFIG;
	}
	if (ca_file == NULL && cfg.ca_file[0])
		ca_file = cfg.ca_file;
	if (ct_list == NULL && cfg.ct_log_list[0])
		ct_list = cfg.ct_log_list;
	if (unbound_conf == NULL && cfg.unbound_conf[0])
		unbound_conf = cfg.unbound_conf;
	if (trust_anchor == NULL && cfg.trust_anchor_file[0])
		trust_anchor = cfg.trust_anchor_file;

	if (pkix && ca_file == NULL) {
		fprintf(stderr, "smtpsec-verify: --pkix-only needs --ca-file (or ca_file in -c)\n");
		return EX_USAGE;
	}

	/* the chain */
	text = buf_read_file(chain_file, MAX_INPUT, &tl);
	if (text == NULL) {
		fprintf(stderr, "smtpsec-verify: cannot read %s\n", chain_file);
		return EX_NOINPUT;
	}
	n = 0;
	for (const char *s = (const char *)text; (s = strstr(s, "-----BEGIN CERTIFICATE-----")); s++)
		n++;
	if (n > VFY_CHAIN_MAX_CERTS) {
		free(text);
		printf("chain: fail: too many certificates (%d, at most %d)\n", n, VFY_CHAIN_MAX_CERTS);
		return EX_FAIL;
	}
	n = vfy_pem_certs((const char *)text, tl, der, len, VFY_CHAIN_MAX_CERTS + 1);
	free(text);
	if (n <= 0) {
		printf("chain: fail: %s\n", n < 0 ? "bad PEM" : "no certificates");
		return EX_FAIL;
	}
	rc = vfy_chain_parse((const uint8_t *const *)der, len, (size_t)n, &chain, &why);
	cs = vfy_chains_new(1);
	vfy_chains_set(cs, 0, (const uint8_t *const *)der, len, (size_t)n);
	for (int i = 0; i < n; i++)
		free(der[i]);
	if (rc < 0) {
		printf("chain: fail: %s\n", why);
		rc = EX_FAIL;
		goto out;
	}
	printf("chain: %zu certificate(s), leaf key %s\n", chain->n,
	    wire_alg_key_name(chain->cert[0].key_type));
	for (size_t i = 0; i < chain->n_dns; i++)
		printf("chain:   dNSName %s\n", chain->dns[i]);
	for (size_t i = 0; i < chain->n_srvname; i++)
		printf("chain:   SRVName %s\n", chain->srvname[i]);
	printf("time: %lld\n", (long long)at);
	if (pkix) {
		rc = pkix_only(chain, host, ca_file, at);
		goto out;
	}
	/* the message, when given: steps 2-4 as in the gateway, decided and
	 * printed before any resolver or CA file is set up */
	if (msg_file != NULL) {
		if (parse_alg(alg_name, &alg) < 0 || (sig = hex_decode(sig_hex, 0, &sl)) == NULL) {
			rc = usage(stderr, EX_USAGE);
			goto out;
		}
		msg = buf_read_file(msg_file, MAX_INPUT, &ml);
		if (msg == NULL) {
			free(sig);
			fprintf(stderr, "smtpsec-verify: cannot read %s\n", msg_file);
			rc = EX_NOINPUT;
			goto out;
		}
		ve = vfy_email_begin(NULL, cs, &(struct vfy_email_head){ 0, alg, sig, sl });
		vfy_email_update(ve, msg, ml);
		rc = vfy_email_local(ve, msg, ml);
		free(sig);
		free(msg);
		out.v = *vfy_email_verdict(ve, &from);
		if (rc && out.v.step == VFY_STEP_SIG) {
			printf("step 3 signature: fail: %s\n", out.v.why);
			rc = EX_FAIL;
			goto out;
		}
		printf("step 3 signature: pass (0x%04x)\n", alg);
		if (rc) {
			printf("step 4 from: fail: %s\n", out.v.why);
			rc = EX_FAIL;
			goto out;
		}
		printf("step 4 from: pass: %s (F = %s)\n", from->addr, from->domain);
		if (domain != NULL && strcasecmp(domain, from->domain) != 0) {
			printf("step 4 from: fail: --domain %s differs from the From domain\n", domain);
			rc = EX_FAIL;
			goto out;
		}
	} else {
		/* --domain alone: steps 5-9 for chain 0 */
		ve = vfy_email_begin(NULL, cs, &(struct vfy_email_head){ 0 });
	}
	if (ct_list != NULL && !(ct_usable = vfy_ct_log_list_check(ct_list, NULL, NULL, err,
	    sizeof(err)) == 0))
		/* report it; step 9 then fails closed (unless DANE exempts the leaf) */
		printf("ct log list: unusable: %s\n", err);
	if (ct_only) {
		/* step 9 alone: every SCT with its log and verdict */
		struct vfy_ct_only r;
		unsigned need = cfg.ct_min_scts ? (unsigned)cfg.ct_min_scts : 1;

		if (vfy_ct_only(chain, ct_usable ? ct_list : NULL, at, &r) < 0 && r.valid == -1)
			printf("step 9 ct: the chain must include the leaf's issuer\n");
		for (size_t i = 0; i < r.n_scts; i++)
			printf("  sct %zu: log=\"%s\" timestamp_ms=%llu verdict=%s\n", i + 1, r.sct[i].log,
			    (unsigned long long)r.sct[i].timestamp_ms, r.sct[i].why);
		printf("step 9 ct: %s: %d valid SCT(s) from distinct logs, %u required (%zu logs in %s)\n",
		    r.valid >= 0 && (unsigned)r.valid >= need ? "pass" : "fail", r.valid < 0 ? 0 : r.valid,
		    need, r.n_logs, ct_list ? ct_list : "no list");
		rc = r.valid >= 0 && (unsigned)r.valid >= need ? EX_PASS : EX_FAIL;
		goto out;
	}

	/* steps 5-9 on the real resolver */
	loop = ev_loop_new(EVFLAG_AUTO);
	o = (struct vfy_options){ .ca_file = ca_file, .ct_log_list = ct_usable ? ct_list : NULL,
	    .ct_min_scts = (unsigned)cfg.ct_min_scts, .dns = { .unbound_conf = unbound_conf,
	    .trust_anchor_file = trust_anchor, .timeout_ms = (unsigned)cfg.dns_timeout_ms,
	    .cache = VFY_DNS_CACHE_MEMORY, .cache_max_ttl = 60, .cache_entries = 64 } };
	if (vfy_dns_init(&dns, loop, &o.dns, err, sizeof(err)) < 0) {
		fprintf(stderr, "smtpsec-verify: resolver: %s\n", err);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	o.lookup = tap_lookup;
	o.lookup_cancel = tap_cancel;
	o.lookup_arg = dns;
	if (vfy_init(&v, loop, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "smtpsec-verify: %s\n", err);
		rc = EX_CONFIG;
		goto out;
	}
	out.loop = loop;
	out.done = vfy_email_check(ve, v, msg_file != NULL ? NULL : domain, at, on_email, &out);
	if (!out.done)
		ev_run(loop, 0);
	out.v = *vfy_email_verdict(ve, NULL);
	if (!out.done)
		out.v.result = VFY_TEMPFAIL;
	if (out.v.step == VFY_STEP_FROM)
		printf("step 5 srv: fail: %s is not a usable domain name\n",
		    msg_file != NULL ? from->domain : domain);
	else
		print_verdict(&out.v);
	rc = out.v.result == VFY_PASS ? EX_PASS : out.v.result == VFY_PERMFAIL ? EX_FAIL : EX_TEMPFAIL;
out:
	vfy_email_free(&ve);
	vfy_deinit(&v);
	vfy_dns_deinit(&dns);
	vfy_chain_free(&chain);
	vfy_chains_free(&cs);
	if (loop != NULL)
		ev_loop_destroy(loop);
	return rc;
}
