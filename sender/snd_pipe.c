/*
 * smtpsec-send --pipe: the Postfix pipe(8) transport (issue 19).
 *
 * One RFC 5322 message on stdin (LF or CRLF line ends; sent with CRLF),
 * recipients as arguments.  The author domain F comes from the From field
 * exactly as the gateway reads it (vfy_from_parse, SMTPSEC.md 4.4); the
 * key and chain for F come from the --keys file.  Recipients are grouped
 * by domain, each group gets one session with its discovered gateway
 * (snd_disc_connect, SMTPSEC.md 10) and one signed Email.
 *
 * Exit status (sysexits, which pipe(8) applies to every recipient of the
 * run): 0 all delivered; 75 any temporary result; 67 every recipient
 * unknown_address; 69 any other permanent result.  Exactly one line on
 * stderr says why (recipient, target, reply), nothing on stdout.
 * --timeout bounds the whole run: every wait is capped by the deadline and
 * SIGALRM one second later ends the process with 75 whatever it is doing.
 */
#include "base/buf.h"
#include "base/mem.h"
#include "sender/snd.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <ctype.h>
#include <errno.h>
#include <idn2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire/wire.h"
#include "verify/vfy.h"
#include "verify/vfy_from.h"

#define SND_MAX_MESSAGE	(50u << 20)	/* the gateway's default max_message_size */
#define SND_MAX_RCPT	1000		/* recipients per Email (SMTPSEC.md 7) */

enum rstate { RS_PENDING = 0, RS_OK, RS_TEMP, RS_UNKNOWN, RS_PERM };

struct rcpt {
	const char *addr;		/* borrowed: argv */
	char domain[256];		/* lower-case A-labels, no trailing dot */
	enum rstate st;
	char why[400];
};

static void
on_alarm(int sig)
{
	static const char m[] = "smtpsec-send: timed out: delivery took longer than --timeout\n";
	ssize_t r;

	(void)sig;
	r = write(2, m, sizeof(m) - 1);
	(void)r;
	_exit(SND_EX_TEMPFAIL);
}

/* stdin, at most max bytes; NULL on a read error, *over_r when larger */
static uint8_t *
read_stdin(size_t max, size_t *len_r, int *over_r)
{
	struct buf b = { 0 };
	int rc = buf_read_fd(&b, 0, max);

	if (rc < 0) {
		buf_free(&b);
		return NULL;
	}
	*over_r = rc > 0;
	return buf_steal(&b, len_r);
}

uint8_t *
snd_pipe_crlf(const uint8_t *m, size_t len, size_t *len_r)
{
	size_t i, n = 0, extra = 0;
	uint8_t *o;

	for (i = 0; i < len; i++)
		if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r'))
			extra++;
	o = mem_alloc(len + extra + 3);
	for (i = 0; i < len; i++) {
		if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r'))
			o[n++] = '\r';
		o[n++] = m[i];
	}
	if (n > 0 && !(n >= 2 && o[n - 2] == '\r' && o[n - 1] == '\n')) {
		o[n++] = '\r';
		o[n++] = '\n';
	}
	*len_r = n;
	return o;
}

int
snd_pipe_rcpt_domain(const char *addr, char *out, size_t outlen)
{
	const char *at = strrchr(addr, '@');
	char *ascii = NULL;
	size_t i, n;

	if (at == NULL || at == addr || at[1] == '\0' || strlen(addr) > 998)
		return -1;
	for (i = 0; addr[i]; i++)
		if ((unsigned char)addr[i] < 0x20 || addr[i] == 0x7f)
			return -1;
	if (idn2_to_ascii_8z(at + 1, &ascii, IDN2_NONTRANSITIONAL) != IDN2_OK)
		return -1;
	n = strlen(ascii);
	if (n && ascii[n - 1] == '.')
		ascii[--n] = '\0';
	if (n == 0 || n >= outlen) {
		free(ascii);
		return -1;
	}
	for (i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)ascii[i]);
	free(ascii);
	return 0;
}

int
snd_pipe_keys_find(const char *path, const char *domain, char *key, char *chain, size_t len,
    char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	unsigned lineno = 0;
	int found = 1;

	if (f == NULL) {
		snprintf(err, errlen, "cannot read --keys %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char d[300], k[2048], c[2048], junk[8];
		char *hash = strchr(line, '#');
		int n;

		lineno++;
		if (hash)
			*hash = '\0';
		n = sscanf(line, "%299s %2047s %2047s %7s", d, k, c, junk);
		if (n <= 0)
			continue;
		if (n != 3 || strlen(line) >= sizeof(line) - 1) {
			snprintf(err, errlen, "%s:%u: want DOMAIN KEY.pem CHAIN.pem", path, lineno);
			fclose(f);
			return -1;
		}
		n = (int)strlen(d);
		if (n > 1 && d[n - 1] == '.')
			d[n - 1] = '\0';
		if (strcasecmp(d, domain) == 0 && found == 1) {
			snprintf(key, len, "%s", k);
			snprintf(chain, len, "%s", c);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

static const char *
err_name(unsigned code)
{
	return wire_err_name(code);
}

/* One reply (or none) applied to the recipients of one domain group. */
static void
apply_result(struct rcpt *r, size_t n, const char *domain, const char *target,
    const struct snd_result *res)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (r[i].st != RS_PENDING || strcmp(r[i].domain, domain) != 0)
			continue;
		switch (res->reply) {
		case SND_R_DELIVERED:
			r[i].st = RS_OK;
			break;
		case SND_R_NONE:
			r[i].st = RS_TEMP;
			snprintf(r[i].why, sizeof(r[i].why), "%s: %s", target, res->why);
			break;
		case SND_R_ERROR:
			if (res->code == WIRE_ERR_UNKNOWN_ADDRESS) {
				/* the listed ones are unknown, the rest delivered (5) */
				r[i].st = RS_OK;
				for (j = 0; j < res->n_addr; j++)
					if (strcasecmp(res->addr[j], r[i].addr) == 0)
						r[i].st = RS_UNKNOWN;
				if (res->n_addr == 0)
					r[i].st = RS_UNKNOWN;
				if (r[i].st == RS_UNKNOWN)
					snprintf(r[i].why, sizeof(r[i].why), "%s replied unknown_address",
					    target);
				break;
			}
			r[i].st = res->code == WIRE_ERR_SERVICE_UNAVAILABLE ||
			    res->code == WIRE_ERR_INTERNAL_ERROR ? RS_TEMP : RS_PERM;
			snprintf(r[i].why, sizeof(r[i].why), "%s replied %s", target,
			    err_name(res->code));
			break;
		}
	}
}

static void
mark(struct rcpt *r, size_t n, const char *domain, enum rstate st, const char *why)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i].st == RS_PENDING && (domain == NULL || strcmp(r[i].domain, domain) == 0)) {
			r[i].st = st;
			snprintf(r[i].why, sizeof(r[i].why), "%s", why);
		}
}

/* The exit status and its one line. */
static int
finish(const struct rcpt *r, size_t n)
{
	size_t i, n_unknown = 0;
	const struct rcpt *temp = NULL, *perm = NULL, *unk = NULL;

	for (i = 0; i < n; i++) {
		if (r[i].st == RS_TEMP && temp == NULL)
			temp = &r[i];
		if (r[i].st == RS_PERM && perm == NULL)
			perm = &r[i];
		if (r[i].st == RS_UNKNOWN) {
			n_unknown++;
			if (unk == NULL)
				unk = &r[i];
		}
	}
	if (temp) {
		fprintf(stderr, "smtpsec-send: %s: %s\n", temp->addr, temp->why);
		return SND_EX_TEMPFAIL;
	}
	if (n_unknown == n && n > 0) {
		fprintf(stderr, "smtpsec-send: %s: %s\n", unk->addr, unk->why);
		return SND_EX_NOUSER;
	}
	if (perm || unk) {
		const struct rcpt *p = perm ? perm : unk;

		fprintf(stderr, "smtpsec-send: %s: %s\n", p->addr, p->why);
		return SND_EX_UNAVAILABLE;
	}
	return SND_EX_OK;
}

/* The Email frame for the recipients of one domain. */
static int
email_frame(const struct rcpt *r, size_t n, const char *domain, uint16_t alg,
    const uint8_t *sig, size_t sl, const uint8_t *msg, size_t len, struct buf *b)
{
	struct wire_bytes *rc = mem_calloc(n, sizeof(*rc));
	struct wire_email_out e;
	size_t i, k = 0;
	int ret;

	for (i = 0; i < n; i++)
		if (r[i].st == RS_PENDING && strcmp(r[i].domain, domain) == 0) {
			rc[k].p = (const uint8_t *)r[i].addr;
			rc[k].len = strlen(r[i].addr);
			k++;
		}
	memset(&e, 0, sizeof(e));
	e.chain_index = 0;
	e.algorithm = alg;
	e.signature.p = sig;
	e.signature.len = sl;
	e.rcpt = rc;
	e.n_rcpt = k;
	ret = wire_enc_email(b, NULL, &e, msg, len);
	free(rc);
	return ret;
}

int
snd_pipe_run(const struct snd_pipe_opts *o)
{
	struct rcpt *r = mem_calloc(o->n_rcpt + 1, sizeof(*r));
	struct snd_discover_opts dopt = o->disc;
	struct snd_disc *disc = NULL;
	struct snd_key *key = NULL;
	struct vfy_from from;
	WOLFSSL_CTX *ctx = NULL;
	uint8_t *raw = NULL, *msg = NULL, **der = NULL, sig[132];
	size_t raw_len = 0, len = 0, *derl = NULL, n_der = 0, sl = 0, i, j;
	char keyp[2048], chainp[2048], err[512];
	const char *why = NULL;
	int over, rc, k;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(o->timeout + 1);
	dopt.deadline = snd_now() + o->timeout;
	dopt.verbose = 0;
	for (i = 0; i < o->n_rcpt; i++) {
		r[i].addr = o->rcpt[i];
		if (snd_pipe_rcpt_domain(o->rcpt[i], r[i].domain, sizeof(r[i].domain)) < 0) {
			r[i].st = RS_PERM;
			snprintf(r[i].why, sizeof(r[i].why), "not a valid recipient address");
		}
	}
	if (o->n_rcpt > SND_MAX_RCPT) {
		mark(r, o->n_rcpt, NULL, RS_TEMP, "more than 1000 recipients in one run "
		    "(set smtpsec_destination_recipient_limit)");
		goto done;
	}
	raw = read_stdin(SND_MAX_MESSAGE, &raw_len, &over);
	if (raw == NULL) {
		mark(r, o->n_rcpt, NULL, RS_TEMP, "cannot read the message from stdin");
		goto done;
	}
	if (over) {
		mark(r, o->n_rcpt, NULL, RS_PERM, "message larger than 50 MiB");
		goto done;
	}
	msg = snd_pipe_crlf(raw, raw_len, &len);
	free(raw);
	raw = NULL;
	/* F, as the gateway will read it (SMTPSEC.md 4.4) */
	if (vfy_from_parse(msg, len, &from, &why) != 0) {
		snprintf(err, sizeof(err), "no usable From field: %s", why ? why : "unparsable");
		mark(r, o->n_rcpt, NULL, RS_PERM, err);
		goto done;
	}
	k = snd_pipe_keys_find(o->keys, from.domain, keyp, chainp, sizeof(keyp), err, sizeof(err));
	if (k < 0) {
		mark(r, o->n_rcpt, NULL, RS_TEMP, err);	/* local configuration: retry */
		goto done;
	}
	if (k == 1) {
		snprintf(err, sizeof(err), "no signing key for the author domain %s in %s",
		    from.domain, o->keys);
		mark(r, o->n_rcpt, NULL, RS_PERM, err);
		goto done;
	}
	key = snd_key_load(keyp, err, sizeof(err));
	if (key == NULL || snd_chain_load(chainp, &der, &derl, &n_der, err, sizeof(err)) < 0) {
		mark(r, o->n_rcpt, NULL, RS_TEMP, err);
		goto done;
	}
	if (snd_sign(key, msg, len, sig, &sl) < 0) {
		mark(r, o->n_rcpt, NULL, RS_TEMP, "signing failed");
		goto done;
	}
	if (snd_disc_new(&disc, &dopt, err, sizeof(err)) != 0) {
		mark(r, o->n_rcpt, NULL, RS_TEMP, err);
		goto done;
	}
	wolfSSL_Init();
	ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	if (ctx == NULL) {
		mark(r, o->n_rcpt, NULL, RS_TEMP, "cannot make a TLS context");
		goto done;
	}
	/* the server is checked by discovery itself (10.3) */
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	for (i = 0; i < o->n_rcpt; i++) {
		struct buf b = { 0 };
		struct snd_result res;
		char dom[256], target[300];
		void *ssl = NULL;
		int fd = -1;

		if (r[i].st != RS_PENDING)
			continue;
		snprintf(dom, sizeof(dom), "%s", r[i].domain);
		rc = snd_disc_connect(disc, dom, ctx, &fd, &ssl, target, sizeof(target), err,
		    sizeof(err));
		if (rc != 0) {
			mark(r, o->n_rcpt, dom, rc == -2 ? RS_PERM : RS_TEMP, err);
			if (rc != -2)
				mark(r, o->n_rcpt, NULL, RS_TEMP, "not tried after a deferral");
			continue;
		}
		if (email_frame(r, o->n_rcpt, dom, snd_key_alg(key), sig, sl, msg, len, &b) < 0) {
			mark(r, o->n_rcpt, dom, RS_PERM, "cannot encode the Email");
			buf_free(&b);
			wolfSSL_free(ssl);
			close(fd);
			continue;
		}
		snd_session_one(ssl, fd, der, derl, n_der, b.p, b.len, dopt.deadline, &res);
		apply_result(r, o->n_rcpt, dom, target, &res);
		snd_result_clear(&res);
		buf_free(&b);
		wolfSSL_free(ssl);
		close(fd);
		/* pipe(8) retries the whole run after a 75: delivering the
		 * remaining domains now would only duplicate them then */
		for (j = 0; j < o->n_rcpt; j++)
			if (r[j].st == RS_TEMP) {
				mark(r, o->n_rcpt, NULL, RS_TEMP, "not tried after a deferral");
				break;
			}
	}
done:
	alarm(0);
	rc = finish(r, o->n_rcpt);
	if (ctx) {
		wolfSSL_CTX_free(ctx);
		wolfSSL_Cleanup();
	}
	snd_disc_free(&disc);
	for (j = 0; j < n_der; j++)
		free(der[j]);
	free(der);
	free(derl);
	snd_key_free(&key);
	free(raw);
	free(msg);
	free(r);
	return rc;
}
