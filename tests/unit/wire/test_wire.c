/*
 * Unit tests for wire/wire.c.
 *
 * The shared vectors (../shared/spec/vectors/wire-valid.json and
 * wire-invalid.json) are loaded at run time: every valid vector must decode
 * to its listed fields and re-encode byte for byte; every invalid vector must
 * give its expected error.  Each case runs twice: the whole frame in one
 * call, and fed one byte at a time.
 */
#include <jansson.h>

#include "wire/wire.h"
#include "tests/lib/tutil.h"
#include "tests/unit/t.h"

/* --- a decoding harness that records what the decoder produced ----------- */

struct got {
	int nframes;
	struct wire_frame f[8];
	/* copies of the views we check after later calls invalidate them */
	struct buf fields[8];
	struct buf body;		/* concatenated message bytes */
	uint64_t body_calls, last_off_ok;
	int nerrs;
	struct wire_error e[8];
};

static void
body_cb(void *arg, const struct wire_frame *head, uint64_t off, const uint8_t *p, size_t n)
{
	struct got *g = arg;

	(void)head;
	if (off == g->body.len)
		g->last_off_ok++;
	g->body_calls++;
	buf_add(&g->body, p, n);
}

/* Serialize the views of a frame into a text form we can compare, so the
 * comparison survives the next decode call. */
static void
snap(struct buf *o, const struct wire_frame *f)
{
	char tmp[64];
	size_t i, j;
	char *h;

#define S(str) buf_add(o, str, strlen(str))
#define HEX(pp, ll) do { h = tutil_tohex((pp), (ll)); S(h); free(h); } while (0)
	snprintf(tmp, sizeof(tmp), "type=%d;", f->type);
	S(tmp);
	S("ext=");
	for (i = 0; i < f->n_ext; i++) {
		snprintf(tmp, sizeof(tmp), "%d:", f->ext[i].type);
		S(tmp);
		HEX(f->ext[i].data.p, f->ext[i].data.len);
		S(",");
	}
	S(";");
	switch (f->type) {
	case WIRE_MSG_SERVER_HELLO:
		snprintf(tmp, sizeof(tmp), "version=%d;", f->version);
		S(tmp);
		break;
	case WIRE_MSG_CLIENT_HELLO:
		snprintf(tmp, sizeof(tmp), "version=%d;chains=", f->version);
		S(tmp);
		for (i = 0; i < f->n_chains; i++) {
			S("[");
			for (j = 0; j < f->chains[i].n_certs; j++) {
				HEX(f->chains[i].certs[j].p, f->chains[i].certs[j].len);
				S(",");
			}
			S("]");
		}
		S(";");
		break;
	case WIRE_MSG_EMAIL:
		snprintf(tmp, sizeof(tmp), "chain=%u;algorithm=%u;parameters=", f->chain_index, f->algorithm);
		S(tmp);
		HEX(f->parameters.p, f->parameters.len);
		S(";signature=");
		HEX(f->signature.p, f->signature.len);
		S(";trace=");
		for (i = 0; i < f->n_trace; i++) {
			HEX(f->trace[i].name.p, f->trace[i].name.len);
			S(":");
			HEX(f->trace[i].value.p, f->trace[i].value.len);
			S(",");
		}
		S(";rcpt=");
		for (i = 0; i < f->n_rcpt; i++) {
			HEX(f->rcpt[i].p, f->rcpt[i].len);
			S(",");
		}
		S(";");
		break;
	case WIRE_MSG_EMAIL_DELIVERED:
		snprintf(tmp, sizeof(tmp), "email=%u;", f->email);
		S(tmp);
		break;
	case WIRE_MSG_ERROR:
		snprintf(tmp, sizeof(tmp), "code=%u;ref=", f->code);
		S(tmp);
		if (f->has_ref) {
			snprintf(tmp, sizeof(tmp), "%u", f->ref);
			S(tmp);
		} else
			S("none");
		S(";addr=");
		for (i = 0; i < f->n_addr; i++) {
			HEX(f->addr[i].p, f->addr[i].len);
			S(",");
		}
		S(";");
		break;
	}
	buf_add(o, "", 1);
#undef S
#undef HEX
}

/* Same text form from the vector's JSON "decoded" object. */
static void
snap_json(struct buf *o, json_t *d)
{
	char tmp[64];
	size_t i, j;
	json_t *v, *x;
	int type = (int)json_integer_value(json_object_get(d, "type"));

#define S(str) buf_add(o, str, strlen(str))
#define JS(obj) S(json_string_value(obj) ? json_string_value(obj) : "?")
	snprintf(tmp, sizeof(tmp), "type=%d;", type);
	S(tmp);
	S("ext=");
	json_array_foreach(json_object_get(d, "extensions"), i, v) {
		snprintf(tmp, sizeof(tmp), "%d:", (int)json_integer_value(json_array_get(v, 0)));
		S(tmp);
		JS(json_array_get(v, 1));
		S(",");
	}
	S(";");
	switch (type) {
	case WIRE_MSG_SERVER_HELLO:
		snprintf(tmp, sizeof(tmp), "version=%d;", (int)json_integer_value(json_object_get(d, "version")));
		S(tmp);
		break;
	case WIRE_MSG_CLIENT_HELLO:
		snprintf(tmp, sizeof(tmp), "version=%d;chains=", (int)json_integer_value(json_object_get(d, "version")));
		S(tmp);
		json_array_foreach(json_object_get(d, "chains"), i, v) {
			S("[");
			json_array_foreach(v, j, x) {
				JS(x);
				S(",");
			}
			S("]");
		}
		S(";");
		break;
	case WIRE_MSG_EMAIL:
		snprintf(tmp, sizeof(tmp), "chain=%d;algorithm=%d;parameters=",
		    (int)json_integer_value(json_object_get(d, "chain")),
		    (int)json_integer_value(json_object_get(d, "algorithm")));
		S(tmp);
		JS(json_object_get(d, "parameters"));
		S(";signature=");
		JS(json_object_get(d, "signature"));
		S(";trace=");
		json_array_foreach(json_object_get(d, "trace_headers"), i, v) {
			JS(json_array_get(v, 0));
			S(":");
			JS(json_array_get(v, 1));
			S(",");
		}
		S(";rcpt=");
		json_array_foreach(json_object_get(d, "recipients"), i, v) {
			JS(v);
			S(",");
		}
		S(";");
		break;
	case WIRE_MSG_EMAIL_DELIVERED:
		snprintf(tmp, sizeof(tmp), "email=%d;", (int)json_integer_value(json_object_get(d, "email")));
		S(tmp);
		break;
	case WIRE_MSG_ERROR:
		snprintf(tmp, sizeof(tmp), "code=%d;ref=", (int)json_integer_value(json_object_get(d, "code")));
		S(tmp);
		x = json_object_get(d, "reference");
		if (json_is_integer(x)) {
			snprintf(tmp, sizeof(tmp), "%d", (int)json_integer_value(x));
			S(tmp);
		} else
			S("none");
		S(";addr=");
		json_array_foreach(json_object_get(d, "addresses"), i, v) {
			JS(v);
			S(",");
		}
		S(";");
		break;
	}
	buf_add(o, "", 1);
#undef S
#undef JS
}

/*
 * Feed `in` to a fresh decoder in chunks of `step` bytes (0 = all at once),
 * recording frames and errors.  Stops after a fatal error.
 */
static void
run(struct got *g, const uint8_t *in, size_t len, size_t step, const struct wire_limits *lim)
{
	struct wire_limits dl;
	struct wire *w;
	size_t off = 0;

	memset(g, 0, sizeof(*g));
	if (lim == NULL) {
		wire_limits_default(&dl);
		lim = &dl;
	}
	w = wire_new(lim, body_cb, g);
	while (off < len || step == 0) {
		size_t chunk = step == 0 ? len - off : (len - off < step ? len - off : step);
		size_t used = 0, pos = 0;
		int r;

		/* call until this chunk is used up */
		do {
			struct wire_frame f;

			r = wire_decode(w, in + off + pos, chunk - pos, &used, &f);
			pos += used;
			if (r == 1 && g->nframes < 8) {
				g->f[g->nframes] = f;
				snap(&g->fields[g->nframes], &f);
				g->nframes++;
			} else if (r < 0 && g->nerrs < 8) {
				g->e[g->nerrs++] = *wire_error(w);
				if (wire_error(w)->fatal)
					goto out;
			}
		} while (r != 0 && pos <= chunk);
		off += chunk;
		if (step == 0)
			break;
	}
out:
	wire_free(&w);
}

static void
got_free(struct got *g)
{
	int i;

	for (i = 0; i < 8; i++)
		buf_free(&g->fields[i]);
	buf_free(&g->body);
}

static json_t *
load_vectors(const char *name)
{
	json_error_t je;
	json_t *root = json_load_file(tutil_shared(name), 0, &je);

	if (root == NULL) {
		printf("FAIL: test_wire.load: %s: %s\n", tutil_shared(name), je.text);
		return NULL;
	}
	return json_object_get(root, "vectors") ? root : NULL;
}

/* Re-encode a decoded frame with the encoders; body for Emails. */
static void
reencode(struct buf *o, const struct wire_frame *f, const uint8_t *body, size_t blen)
{
	struct wire_ext_out e = { -1, f->n_ext, f->ext };

	switch (f->type) {
	case WIRE_MSG_SERVER_HELLO:
		wire_enc_server_hello(o, &e, f->version);
		break;
	case WIRE_MSG_CLIENT_HELLO:
		wire_enc_client_hello(o, &e, f->version, f->chains, f->n_chains);
		break;
	case WIRE_MSG_EMAIL: {
		struct wire_email_out m = {
			f->chain_index, f->algorithm, f->parameters, f->signature,
			f->trace, f->n_trace, f->rcpt, f->n_rcpt,
		};
		wire_enc_email(o, &e, &m, body, blen);
		break;
	}
	case WIRE_MSG_EMAIL_DELIVERED:
		wire_enc_email_delivered(o, &e, f->email);
		break;
	case WIRE_MSG_ERROR:
		wire_enc_error(o, &e, f->code, f->has_ref ? (int64_t)f->ref : -1, f->addr, f->n_addr);
		break;
	}
}

static void
valid_case(json_t *v, size_t step)
{
	const char *hex = json_string_value(json_object_get(v, "hex"));
	json_t *dec = json_object_get(v, "decoded");
	struct buf want = { 0 }, re = { 0 };
	uint8_t *in, *msg = NULL;
	size_t len, mlen = 0;
	struct got g;
	struct wire_limits lim;
	struct wire *w;
	struct wire_frame f;
	size_t used;

	T_ASSERT(hex != NULL && (in = tutil_hex(hex, &len)) != NULL);
	run(&g, in, len, step, NULL);
	if (g.nerrs != 0 || g.nframes != 1) {
		int n = g.nframes, e = g.nerrs;
		const char *why = e ? g.e[0].why : "";
		got_free(&g);
		free(in);
		T_FAIL("%d frames, %d errors (%s)", n, e, why);
	}
	snap_json(&want, dec);
	if (strcmp((char *)want.p, (char *)g.fields[0].p) != 0) {
		printf("# want %s\n# got  %s\n", (char *)want.p, (char *)g.fields[0].p);
		got_free(&g);
		buf_free(&want);
		free(in);
		T_FAIL("decoded fields differ");
	}
	if (json_object_get(dec, "message") != NULL) {
		msg = tutil_hex(json_string_value(json_object_get(dec, "message")), &mlen);
		T_ASSERT(msg != NULL);
		if (mlen != g.body.len || (mlen && memcmp(msg, g.body.p, mlen) != 0) ||
		    g.last_off_ok != g.body_calls || g.f[0].message_len != mlen) {
			got_free(&g);
			free(in);
			free(msg);
			buf_free(&want);
			T_FAIL("message body differs (%zu bytes, want %zu)", g.body.len, mlen);
		}
	}
	got_free(&g);
	buf_free(&want);

	/* re-encode from a whole decode and compare byte for byte */
	wire_limits_default(&lim);
	w = wire_new(&lim, NULL, NULL);
	T_ASSERT(wire_decode(w, in, len, &used, &f) == 1);
	reencode(&re, &f, msg, mlen);
	wire_free(&w);
	if (re.len != len || memcmp(re.p, in, len) != 0) {
		char *h = tutil_tohex(re.p, re.len);
		printf("# re-encoded %s\n", h);
		free(h);
		buf_free(&re);
		free(in);
		free(msg);
		T_FAIL("re-encoding differs");
	}
	buf_free(&re);
	free(in);
	free(msg);
}

static const uint8_t good_hello[] = {
	0, 0, 0, 0, 0, 0, 0, 0x0f, 2, 0, 0, 0, 0, 0, 0,	/* ClientHello, no chains */
};
static const uint8_t good_delivered[] = {
	0, 0, 0, 0, 0, 0, 0, 0x0e, 4, 0, 0, 0, 0, 7,	/* EmailDelivered(7) */
};

static void
invalid_case(json_t *v, size_t step)
{
	const char *hex = json_string_value(json_object_get(v, "hex"));
	const char *expect = json_string_value(json_object_get(v, "expect"));
	const char *pos = json_string_value(json_object_get(v, "position"));
	const char *note = json_string_value(json_object_get(v, "note"));
	int after = pos != NULL && strcmp(pos, "after_hello") == 0;
	int want_fatal;
	struct buf in = { 0 };
	uint8_t *frame;
	size_t flen;
	struct got g;
	uint32_t want_no = after ? 1 : 0;

	(void)note;
	T_ASSERT(hex != NULL && expect != NULL && (frame = tutil_hex(hex, &flen)) != NULL);
	/* wire-invalid.json "about": a size below 11 loses framing (close);
	 * every other case keeps the connection open */
	{
		uint64_t sz = 0;
		size_t k;
		for (k = 0; k < 8 && k < flen; k++)
			sz = sz << 8 | frame[k];
		want_fatal = sz < 11;
	}
	/* [good ClientHello] bad frame [good EmailDelivered] */
	if (after)
		buf_add(&in, good_hello, sizeof(good_hello));
	buf_add(&in, frame, flen);
	buf_add(&in, good_delivered, sizeof(good_delivered));
	free(frame);
	run(&g, in.p, in.len, step, NULL);
	buf_free(&in);
	if (g.nerrs != 1) {
		int n = g.nerrs;
		got_free(&g);
		T_FAIL("%d errors, want 1", n);
	}
	if (strcmp(wire_err_name(g.e[0].code), expect) != 0) {
		const char *name = wire_err_name(g.e[0].code);
		got_free(&g);
		T_FAIL("error %s (%s), want %s", name, g.e[0].why, expect);
	}
	T_EQ_INT(g.e[0].number, want_no);
	T_EQ_INT(g.e[0].fatal, want_fatal);
	if (want_fatal) {
		/* nothing after a lost framing is decoded */
		T_EQ_INT(g.nframes, after ? 1 : 0);
	} else {
		/* framing intact: the good frame after it decodes, numbered next */
		int last = g.nframes - 1;
		T_EQ_INT(g.nframes, after ? 2 : 1);
		T_EQ_INT(g.f[last].type, WIRE_MSG_EMAIL_DELIVERED);
		T_EQ_INT(g.f[last].number, want_no + 1);
		T_EQ_INT(g.f[last].email, 7);
	}
	got_free(&g);
}

static void
t_vectors(const char *file, int valid)
{
	json_t *root = load_vectors(file), *v;
	size_t i;

	if (root == NULL) {
		T_CASE("vectors", file, t_failf_(__FILE__, __LINE__, "cannot load %s", file));
		return;
	}
	json_array_foreach(json_object_get(root, "vectors"), i, v) {
		char label[160];
		const char *name = json_string_value(json_object_get(v, "name"));

		snprintf(label, sizeof(label), "%s[whole]", name ? name : "?");
		T_CASE(valid ? "valid" : "invalid", label, (valid ? valid_case : invalid_case)(v, 0));
		snprintf(label, sizeof(label), "%s[bytewise]", name ? name : "?");
		T_CASE(valid ? "valid" : "invalid", label, (valid ? valid_case : invalid_case)(v, 1));
	}
	json_decref(root);
}

/* --- own cases ------------------------------------------------------------ */

static void
make_email(struct buf *o, const char *msg, size_t n_rcpt, size_t rcpt_len, int rs)
{
	static uint8_t sig[64];
	static uint8_t addr[70000];
	struct wire_bytes *r = calloc(n_rcpt ? n_rcpt : 1, sizeof(*r));
	struct wire_email_out e = { 0 };
	struct wire_ext_out x = { rs, 0, NULL };
	size_t i;

	memset(addr, 'a', sizeof(addr));
	for (i = 0; i < n_rcpt; i++) {
		r[i].p = addr;
		r[i].len = rcpt_len;
	}
	e.algorithm = WIRE_SIG_ED25519;
	e.signature.p = sig;
	e.signature.len = 64;
	e.rcpt = r;
	e.n_rcpt = n_rcpt;
	wire_enc_email(o, &x, &e, (const uint8_t *)msg, strlen(msg));
	free(r);
}

static void
t_pipelined(void)
{
	struct buf in = { 0 };
	struct got g;

	buf_add(&in, good_hello, sizeof(good_hello));
	make_email(&in, "From: a@a.test\r\n\r\nhi\r\n", 1, 10, -1);
	make_email(&in, "second\r\n", 2, 10, 1);
	buf_add(&in, good_delivered, sizeof(good_delivered));
	run(&g, in.p, in.len, 0, NULL);
	T_EQ_INT(g.nerrs, 0);
	T_EQ_INT(g.nframes, 4);
	T_EQ_INT(g.f[1].number, 1);
	T_EQ_INT(g.f[2].number, 2);
	T_EQ_INT(g.f[2].n_rcpt, 2);
	T_EQ_INT(g.f[2].require_security, 1);
	T_EQ_INT(g.f[1].require_security, -1);
	T_EQ_INT(g.body.len, strlen("From: a@a.test\r\n\r\nhi\r\n") + strlen("second\r\n"));
	got_free(&g);
	buf_free(&in);
}

static void
t_too_large_then_next(void)
{
	struct wire_limits lim;
	struct buf in = { 0 };
	char big[5000];
	struct got g;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	wire_limits_default(&lim);
	lim.max_message_size = 1000;
	make_email(&in, big, 1, 10, -1);
	make_email(&in, "small\r\n", 1, 10, -1);
	run(&g, in.p, in.len, 0, &lim);
	T_EQ_INT(g.nerrs, 1);
	T_EQ_INT(g.e[0].code, WIRE_ERR_TOO_LARGE);
	T_EQ_INT(g.e[0].fatal, 0);
	T_EQ_INT(g.e[0].number, 0);
	T_EQ_INT(g.nframes, 1);
	T_EQ_INT(g.f[0].number, 1);
	T_EQ_MEM(g.body.p, g.body.len, "small\r\n", 7);	/* big body never surfaced */
	got_free(&g);
	/* reported as soon as size and type are in: 9 bytes suffice */
	run(&g, in.p, 9, 0, &lim);
	T_EQ_INT(g.nerrs, 1);
	T_EQ_INT(g.e[0].code, WIRE_ERR_TOO_LARGE);
	got_free(&g);
	buf_free(&in);
}

/* SMTPSEC.md 2.5: numbers are uint24.  The Message numbered 2^24-1 is
 * served; the next one is refused before anything of it is used: a fatal
 * service_unavailable without a reference (no number could name it, and a
 * wrapped one would name an earlier Email).  The start value comes from the
 * limits, so this needs no 16 million frames. */
static void
t_number_limit(void)
{
	struct wire_limits lim;
	struct buf in = { 0 };
	size_t step;
	struct got g;

	wire_limits_default(&lim);
	T_EQ_INT(lim.first_number, 0);
	lim.first_number = WIRE_NUMBER_MAX - 1;
	buf_add(&in, good_hello, sizeof(good_hello));
	make_email(&in, "From: a@a.test\r\n\r\nlast\r\n", 1, 10, -1);
	make_email(&in, "From: a@a.test\r\n\r\nwrapped\r\n", 1, 10, -1);
	for (step = 0; step <= 1; step++) {
		run(&g, in.p, in.len, step, &lim);
		T_EQ_INT(g.nframes, 2);
		T_EQ_INT(g.f[0].number, WIRE_NUMBER_MAX - 1);
		T_EQ_INT(g.f[1].number, WIRE_NUMBER_MAX);
		T_EQ_INT(g.nerrs, 1);
		T_EQ_INT(g.e[0].code, WIRE_ERR_SERVICE_UNAVAILABLE);
		T_EQ_INT(g.e[0].fatal, 1);
		T_EQ_INT(g.e[0].no_reference, 1);
		/* the refused Email's body never surfaced */
		T_EQ_MEM(g.body.p, g.body.len, "From: a@a.test\r\n\r\nlast\r\n", 24);
		got_free(&g);
	}
	/* an ordinary error still carries its reference */
	lim.first_number = 5;
	run(&g, (const uint8_t *)"\0\0\0\0\0\0\0\x05\x03", 9, 0, &lim);
	T_EQ_INT(g.nerrs, 1);
	T_EQ_INT(g.e[0].code, WIRE_ERR_ILLEGAL_MESSAGE);
	T_EQ_INT(g.e[0].number, 5);
	T_EQ_INT(g.e[0].no_reference, 0);
	got_free(&g);
	buf_free(&in);
}

static void
t_size_max(void)
{
	static const uint8_t email_max[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 3, 0, 0 };
	static const uint8_t other_max[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0 };
	struct got g;

	run(&g, email_max, sizeof(email_max), 0, NULL);
	T_EQ_INT(g.nerrs, 1);
	T_EQ_INT(g.e[0].code, WIRE_ERR_TOO_LARGE);
	T_EQ_INT(g.e[0].fatal, 0);
	got_free(&g);
	run(&g, other_max, sizeof(other_max), 0, NULL);
	T_EQ_INT(g.nerrs, 1);
	T_EQ_INT(g.e[0].code, WIRE_ERR_TOO_LARGE);
	T_EQ_INT(g.e[0].fatal, 1);
	got_free(&g);
}

static void
t_recipient_limits(void)
{
	struct wire_limits lim;
	struct buf in = { 0 };
	struct got g;

	wire_limits_default(&lim);
	/* 1001 recipients */
	make_email(&in, "m\r\n", 1001, 10, -1);
	buf_add(&in, good_delivered, sizeof(good_delivered));
	run(&g, in.p, in.len, 0, &lim);
	T_EQ_INT(g.nerrs, 1);
	T_EQ_INT(g.e[0].code, WIRE_ERR_ILLEGAL_PARAMETER);
	T_EQ_INT(g.nframes, 1);	/* the next frame still decodes */
	got_free(&g);
	in.len = 0;
	/* 250 recipients of 65535 bytes (16 MB, as much as the 3-byte vector
	 * holds): refused from the vector's length prefix, never buffered */
	make_email(&in, "m\r\n", 250, 65535, -1);
	T_ASSERT(in.len > 16000000);
	run(&g, in.p, in.len, 0, &lim);
	T_EQ_INT(g.nerrs, 1);
	T_EQ_INT(g.e[0].code, WIRE_ERR_ILLEGAL_PARAMETER);
	got_free(&g);
	in.len = 0;
	/* an address over 320 bytes */
	make_email(&in, "m\r\n", 1, 321, -1);
	run(&g, in.p, in.len, 0, &lim);
	T_EQ_INT(g.nerrs, 1);
	T_EQ_STR(g.e[0].why, "recipient address too long");
	got_free(&g);
	in.len = 0;
	/* no recipients at all */
	make_email(&in, "m\r\n", 0, 0, -1);
	run(&g, in.p, in.len, 0, &lim);
	T_EQ_INT(g.nerrs, 1);
	T_EQ_INT(g.e[0].code, WIRE_ERR_ILLEGAL_PARAMETER);
	got_free(&g);
	buf_free(&in);
}

static void
t_trace_limits(void)
{
	struct wire_limits lim;
	struct buf in = { 0 };
	struct wire_header h[101];
	struct wire_bytes r = { (const uint8_t *)"b@b.test", 8 };
	static uint8_t sig[64];
	struct wire_email_out e = { 0 };
	struct got g;
	size_t i;

	wire_limits_default(&lim);
	for (i = 0; i < 101; i++) {
		h[i].name.p = (const uint8_t *)"X-A";
		h[i].name.len = 3;
		h[i].value.p = (const uint8_t *)"v";
		h[i].value.len = 1;
	}
	e.algorithm = WIRE_SIG_ED25519;
	e.signature.p = sig;
	e.signature.len = 64;
	e.rcpt = &r;
	e.n_rcpt = 1;
	e.trace = h;
	e.n_trace = 101;
	T_ASSERT(wire_enc_email(&in, NULL, &e, (const uint8_t *)"m", 1) == 0);
	run(&g, in.p, in.len, 0, &lim);
	T_EQ_INT(g.nerrs, 1);
	T_EQ_STR(g.e[0].why, "too many trace headers");
	got_free(&g);
	/* 100 is fine */
	in.len = 0;
	e.n_trace = 100;
	T_ASSERT(wire_enc_email(&in, NULL, &e, (const uint8_t *)"m", 1) == 0);
	run(&g, in.p, in.len, 1, &lim);
	T_EQ_INT(g.nerrs, 0);
	T_EQ_INT(g.nframes, 1);
	T_EQ_INT(g.f[0].n_trace, 100);
	got_free(&g);
	/* over max_trace_bytes */
	lim.max_trace_bytes = 100;
	run(&g, in.p, in.len, 0, &lim);
	T_EQ_INT(g.nerrs, 1);
	T_EQ_STR(g.e[0].why, "trace headers too large");
	got_free(&g);
	buf_free(&in);
}

static void
t_streamed_body_chunks(void)
{
	struct buf in = { 0 };
	char msg[3000];
	struct got g;
	size_t i;

	for (i = 0; i < sizeof(msg) - 1; i++)
		msg[i] = (char)('a' + i % 26);
	msg[sizeof(msg) - 1] = '\0';
	make_email(&in, msg, 1, 10, -1);
	run(&g, in.p, in.len, 7, NULL);
	T_EQ_INT(g.nframes, 1);
	T_EQ_MEM(g.body.p, g.body.len, msg, strlen(msg));
	T_ASSERT(g.body_calls > 100);		/* it streamed, in order */
	T_EQ_INT(g.last_off_ok, g.body_calls);
	got_free(&g);
	buf_free(&in);
}

static void
t_client_hello_limits(void)
{
	uint8_t cert[70000];
	struct wire_bytes certs[11];
	struct wire_chain chains[17];
	struct buf in = { 0 };
	struct wire_limits lim;
	struct got g;
	size_t i;

	memset(cert, 0x30, sizeof(cert));
	for (i = 0; i < 11; i++) {
		certs[i].p = cert;
		certs[i].len = 10;
	}
	wire_limits_default(&lim);
	for (i = 0; i < 17; i++) {
		chains[i].certs = certs;
		chains[i].n_certs = 1;
	}
	wire_enc_client_hello(&in, NULL, 0, chains, 17);
	run(&g, in.p, in.len, 0, &lim);
	T_EQ_STR(g.nerrs ? g.e[0].why : "", "too many certificate chains");
	got_free(&g);
	in.len = 0;
	chains[0].n_certs = 11;
	wire_enc_client_hello(&in, NULL, 0, chains, 1);
	run(&g, in.p, in.len, 0, &lim);
	T_EQ_STR(g.nerrs ? g.e[0].why : "", "too many certificates in a chain");
	got_free(&g);
	in.len = 0;
	chains[0].n_certs = 1;
	certs[0].len = 65537;	/* cannot fit a chain<0..2^16-1> */
	T_ASSERT(wire_enc_client_hello(&in, NULL, 0, chains, 1) == -1);
	T_EQ_INT(in.len, 0);
	lim.max_cert_bytes = 100;
	certs[0].len = 101;
	wire_enc_client_hello(&in, NULL, 0, chains, 1);
	run(&g, in.p, in.len, 0, &lim);
	T_EQ_STR(g.nerrs ? g.e[0].why : "", "certificate too large");
	got_free(&g);
	/* 16 chains of 10 certs: the maximum, accepted */
	in.len = 0;
	certs[0].len = 10;
	lim.max_cert_bytes = 65536;
	for (i = 0; i < 16; i++)
		chains[i].n_certs = 10;
	wire_enc_client_hello(&in, NULL, 0, chains, 16);
	run(&g, in.p, in.len, 0, &lim);
	T_EQ_INT(g.nerrs, 0);
	T_EQ_INT(g.nframes, 1);
	T_EQ_INT(g.f[0].n_chains, 16);
	got_free(&g);
	buf_free(&in);
}

static void
t_extension_rules(void)
{
	struct wire_ext two[2] = {
		{ WIRE_EXT_REQUIRE_SECURITY, { (const uint8_t *)"\1", 1 } },
		{ WIRE_EXT_REQUIRE_SECURITY, { (const uint8_t *)"\0", 1 } },
	};
	struct wire_ext_out x = { -1, 2, two };
	struct buf in = { 0 };
	struct got g;

	wire_enc_server_hello(&in, &x, 0);
	run(&g, in.p, in.len, 0, NULL);
	T_EQ_INT(g.nerrs, 1);
	T_EQ_INT(g.e[0].code, WIRE_ERR_ILLEGAL_PARAMETER);
	got_free(&g);
	buf_free(&in);
}

/* The owner's buffer budget: asked before the decoder grows its buffer;
 * a refusal is internal_error, fatal, referencing the frame; a buffer grown
 * for a large frame is given back once the frame was handed out. */
struct budget {
	size_t limit, held, calls, released, mismatch;
};

static int
budget_grow(void *arg, size_t have, size_t want)
{
	struct budget *b = arg;

	b->calls++;
	if (want == 0) {
		b->mismatch += have != b->held;
		b->released++;
		b->held = 0;
		return 0;
	}
	if (want > b->limit)
		return -1;
	b->held = want;
	return 0;
}

static void
put_u(struct buf *b, uint64_t v, int n)
{
	uint8_t x[8];
	int i;

	for (i = 0; i < n; i++)
		x[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	buf_add(b, x, (size_t)n);
}

static void
t_grow_budget(void)
{
	struct wire_limits lim;
	struct wire *w;
	struct wire_frame f;
	struct buf in = { 0 };
	struct budget b = { 4096, 0, 0, 0, 0 };
	static uint8_t cert[39997];
	size_t used, off = 0, i;
	int r = 0;

	wire_limits_default(&lim);
	/* a 100000-byte ClientHello header with a budget of 4096: refused at
	 * the header, before any of its body is buffered */
	w = wire_new(&lim, NULL, NULL);
	wire_set_grow_cb(w, budget_grow, &b);
	put_u(&in, 100000, 8);
	put_u(&in, WIRE_MSG_CLIENT_HELLO, 1);
	T_EQ_INT(wire_decode(w, in.p, in.len, &used, &f), -1);
	T_EQ_INT(wire_error(w)->code, WIRE_ERR_INTERNAL_ERROR);
	T_EQ_INT(wire_error(w)->fatal, 1);
	T_EQ_INT(wire_error(w)->number, 0);
	T_EQ_INT(b.calls, 1);	/* the refused one */
	T_EQ_INT(b.held, 0);
	wire_free(&w);
	buf_free(&in);

	/* two chains of one 39997-byte certificate each (~80 KB): allowed,
	 * held at its exact size, released after the frame, fed whole and in
	 * 1000-byte steps */
	for (int step = 0; step <= 1; step++) {
		b.limit = 1 << 20;
		b.held = b.released = 0;
		in.len = 0;
		put_u(&in, 8 + 1 + 2 + 1 + 3 + 2 * (2 + 3 + sizeof(cert)), 8);
		put_u(&in, WIRE_MSG_CLIENT_HELLO, 1);
		put_u(&in, 0, 2);
		put_u(&in, 0, 1);
		put_u(&in, 2 * (2 + 3 + sizeof(cert)), 3);
		for (i = 0; i < 2; i++) {
			put_u(&in, 3 + sizeof(cert), 2);
			put_u(&in, sizeof(cert), 3);
			buf_add(&in, cert, sizeof(cert));
		}
		w = wire_new(&lim, NULL, NULL);
		wire_set_grow_cb(w, budget_grow, &b);
		off = 0;
		while (off < in.len) {
			size_t n = step ? (in.len - off < 1000 ? in.len - off : 1000) : in.len - off;

			r = wire_decode(w, in.p + off, n, &used, &f);
			off += used;
			if (r != 0)
				break;
		}
		T_EQ_INT(r, 1);
		T_EQ_INT(f.type, WIRE_MSG_CLIENT_HELLO);
		T_EQ_INT(f.n_chains, 2);
		T_EQ_INT(b.held, in.len - 9);
		T_EQ_INT(wire_decode(w, NULL, 0, &used, &f), 0);
		T_EQ_INT(b.released, 1);
		T_EQ_INT(b.mismatch, 0);
		T_EQ_INT(b.held, 0);
		wire_free(&w);
	}
	buf_free(&in);
}

int
main(void)
{
	t_vectors("spec/vectors/wire-valid.json", 1);
	t_vectors("spec/vectors/wire-invalid.json", 0);
	T_RUN(t_pipelined);
	T_RUN(t_too_large_then_next);
	T_RUN(t_number_limit);
	T_RUN(t_size_max);
	T_RUN(t_recipient_limits);
	T_RUN(t_trace_limits);
	T_RUN(t_streamed_body_chunks);
	T_RUN(t_client_hello_limits);
	T_RUN(t_extension_rules);
	T_RUN(t_grow_budget);
	return T_END();
}
