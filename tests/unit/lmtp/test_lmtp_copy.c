/*
 * test_lmtp_copy: golden files for the delivered copy (SMTPSEC.md 8).
 *
 * Each tests/unit/lmtp/golden/NAME.in holds directive lines, then a line
 * "@message", then the signed message's raw bytes (CRLF as in the file):
 *   @trace NAME<TAB>VALUE   a trace header, in order; \r \n \t \0 \\ \xHH escapes
 *   @allow LIST             trace_allow, comma separated (default "Received, X-*")
 *   @require N              the require_security extension (default absent)
 *   @trust T                smtp.cert (default dane-ee)
 * NAME.ref is the copy as sent (all segments in order), or "ERROR: why\n".
 * With LMTP_GOLDEN_WRITE=1 the .ref files are (re)written instead: review
 * them before committing.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmtp/lmtp.h"
#include "tests/lib/tutil.h"
#include "wire/wire.h"
#include "tests/unit/t.h"

#define MAX_TRACE 32

static char golden_dir[512];

static size_t
unescape(const char *s, size_t n, uint8_t *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 >= n) {
			out[o++] = (uint8_t)s[i];
			continue;
		}
		switch (s[++i]) {
		case 'r': out[o++] = '\r'; break;
		case 'n': out[o++] = '\n'; break;
		case 't': out[o++] = '\t'; break;
		case '0': out[o++] = 0; break;
		case 'x':
			if (n - i >= 3) {
				char h[3] = { s[i + 1], s[i + 2], 0 };
				out[o++] = (uint8_t)strtoul(h, NULL, 16);
				i += 2;
			}
			break;
		default: out[o++] = (uint8_t)s[i]; break;
		}
	}
	return o;
}

static void
one(const char *name)
{
	char path[700], allow_buf[256] = "Received,X-*", trust[32] = "dane-ee";
	const char *allow[16];
	size_t n_allow = 0, n_trace = 0, len, off = 0, rlen, i;
	uint8_t *in, *ref, *tbuf[MAX_TRACE * 2];
	struct wire_header trace[MAX_TRACE];
	struct lmtp_copy_info info;
	struct lmtp_copy c;
	const char *why;
	int require = -1, rc, have_msg = 0;
	char *out, *tok, *save;
	size_t out_len = 0;

	snprintf(path, sizeof(path), "%s/%s.in", golden_dir, name);
	in = tutil_read_file(path, &len);
	T_ASSERT(in != NULL);
	while (off < len) {
		uint8_t *nl = memchr(in + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - (in + off)) : len - off;
		const char *l = (const char *)in + off;

		off += ll + 1;
		if (ll == 8 && memcmp(l, "@message", 8) == 0) {
			have_msg = 1;
			break;
		}
		if (ll > 7 && memcmp(l, "@trace ", 7) == 0 && n_trace < MAX_TRACE) {
			const char *tab = memchr(l + 7, '\t', ll - 7);
			struct wire_header *t = &trace[n_trace];

			T_ASSERT(tab != NULL);
			tbuf[2 * n_trace] = malloc(ll);
			tbuf[2 * n_trace + 1] = malloc(ll);
			T_ASSERT(tbuf[2 * n_trace] && tbuf[2 * n_trace + 1]);
			t->name.p = tbuf[2 * n_trace];
			t->name.len = unescape(l + 7, (size_t)(tab - (l + 7)), tbuf[2 * n_trace]);
			t->value.p = tbuf[2 * n_trace + 1];
			t->value.len = unescape(tab + 1, ll - (size_t)(tab + 1 - l), tbuf[2 * n_trace + 1]);
			n_trace++;
		} else if (ll > 7 && memcmp(l, "@allow ", 7) == 0 && ll - 7 < sizeof(allow_buf)) {
			memcpy(allow_buf, l + 7, ll - 7);
			allow_buf[ll - 7] = '\0';
		} else if (ll > 9 && memcmp(l, "@require ", 9) == 0)
			require = l[9] - '0';
		else if (ll > 7 && memcmp(l, "@trust ", 7) == 0 && ll - 7 < sizeof(trust)) {
			memcpy(trust, l + 7, ll - 7);
			trust[ll - 7] = '\0';
		} else
			T_FAIL("%s: bad directive line", name);
	}
	T_ASSERT(have_msg);
	for (tok = strtok_r(allow_buf, ",", &save); tok && n_allow < 16; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		allow[n_allow++] = tok;
	}
	memset(&info, 0, sizeof(info));
	info.authserv_id = "mx.b.test";
	info.hostname = "mx.b.test";
	info.sender_host = "mail.a.test";
	info.cert_name = "mail.a.test";
	info.client_ip = "192.0.2.1";
	info.id = "0123456789abcdef";
	info.tls_version = "TLSv1.3";
	info.tls_cipher = "TLS_AES_256_GCM_SHA384";
	info.from_domain = "a.test";
	info.trust = trust;
	info.require_security = require;
	info.date = 1700000000;
	info.trace_allow = allow;
	info.n_trace_allow = n_allow;
	rc = lmtp_copy_build(&info, trace, n_trace, in + off, len - off, &c, &why);
	if (rc < 0) {
		out = malloc(strlen(why) + 16);
		T_ASSERT(out != NULL);
		out_len = (size_t)sprintf(out, "ERROR: %s\n", why);
	} else {
		size_t tot = 0;

		out = malloc(c.total + 1);
		T_ASSERT(out != NULL);
		for (i = 0; i < c.n_seg; i++) {
			memcpy(out + out_len, c.seg[i].p, c.seg[i].len);
			out_len += c.seg[i].len;
			tot += c.seg[i].len;
		}
		T_EQ_INT(tot, c.total);
		/* the copy borrows the message: body ranges point into it */
		T_ASSERT(c.n_seg >= 2 || len - off == 0);
		lmtp_copy_free(&c);
	}
	snprintf(path, sizeof(path), "%s/%s.ref", golden_dir, name);
	if (getenv("LMTP_GOLDEN_WRITE") != NULL) {
		FILE *f = fopen(path, "wb");

		T_ASSERT(f != NULL);
		fwrite(out, 1, out_len, f);
		fclose(f);
	}
	ref = tutil_read_file(path, &rlen);
	T_ASSERT(ref != NULL);
	T_EQ_MEM(out, out_len, ref, rlen);
	free(ref);
	free(out);
	for (i = 0; i < 2 * n_trace; i++)
		free(tbuf[i]);
	free(in);
}

/* [headers] authserv_id_also: a field claiming one of the additional ids
 * is renamed like one claiming authserv_id; other ids are left alone. */
static void
t_authserv_also(void)
{
	static const char msg[] = "Authentication-Results: mx2.b.test; smtpsec=pass\r\n"
	    "Authentication-Results: b.test; smtpsec=pass\r\n"
	    "Authentication-Results: other.test; spf=pass\r\n"
	    "From: a@a.test\r\n\r\nbody\r\n";
	const char *also[] = { "old.b.test", "mx2.b.test" };
	struct lmtp_copy_info info;
	struct lmtp_copy c;
	const char *why;
	char out[2048];
	size_t i, o;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		memset(&info, 0, sizeof(info));
		info.authserv_id = "b.test";
		info.hostname = "mx1.b.test";
		info.sender_host = info.cert_name = "mail.a.test";
		info.client_ip = "192.0.2.1";
		info.id = "0123456789abcdef.1";
		info.tls_version = "TLSv1.3";
		info.tls_cipher = "TLS_AES_256_GCM_SHA384";
		info.from_domain = "a.test";
		info.trust = "dane-ee";
		info.require_security = -1;
		if (pass == 1) {
			info.authserv_also = also;
			info.n_authserv_also = 2;
		}
		T_ASSERT(lmtp_copy_build(&info, NULL, 0, (const uint8_t *)msg, sizeof(msg) - 1, &c, &why) == 0);
		for (i = 0, o = 0; i < c.n_seg; i++) {
			T_ASSERT(o + c.seg[i].len < sizeof(out));
			memcpy(out + o, c.seg[i].p, c.seg[i].len);
			o += c.seg[i].len;
		}
		out[o] = '\0';
		lmtp_copy_free(&c);
		T_ASSERT(strstr(out, "\r\nX-Untrusted-Authentication-Results: b.test; smtpsec=pass\r\n") != NULL);
		T_ASSERT(strstr(out, "\r\nAuthentication-Results: other.test; spf=pass\r\n") != NULL);
		if (pass == 0)
			T_ASSERT(strstr(out, "\r\nAuthentication-Results: mx2.b.test; smtpsec=pass\r\n") != NULL);
		else
			T_ASSERT(strstr(out, "\r\nX-Untrusted-Authentication-Results: mx2.b.test; smtpsec=pass\r\n") != NULL);
	}
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(void)
{
	const char *file = __FILE__, *slash = strrchr(file, '/');
	char *names[256];
	size_t n = 0, i;
	struct dirent *de;
	DIR *d;

	snprintf(golden_dir, sizeof(golden_dir), "%.*s/golden",
	    slash ? (int)(slash - file) : 1, slash ? file : ".");
	if (getenv("LMTP_GOLDEN") != NULL)
		snprintf(golden_dir, sizeof(golden_dir), "%s", getenv("LMTP_GOLDEN"));
	d = opendir(golden_dir);
	if (d == NULL) {
		printf("FAIL: test_lmtp_copy.golden: cannot open %s (run from the repository root)\n", golden_dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL && n < 256) {
		size_t l = strlen(de->d_name);

		if (l > 3 && strcmp(de->d_name + l - 3, ".in") == 0) {
			names[n] = strndup(de->d_name, l - 3);
			if (names[n] == NULL)
				abort();
			n++;
		}
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp);
	for (i = 0; i < n; i++) {
		T_CASE("golden", names[i], one(names[i]));
		free(names[i]);
	}
	T_CASE("copy", "authserv_also", t_authserv_also());
	if (n < 10)
		printf("FAIL: test_lmtp_copy.golden_count: only %zu golden files\n", n);
	return T_END() || n < 10;
}
