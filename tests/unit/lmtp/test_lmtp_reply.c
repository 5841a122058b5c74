/*
 * test_lmtp_reply: the LMTP reply-line parser and DATA dot-stuffing,
 * resumed across every chunk boundary (RFC 5321 4.2, 4.5.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmtp/lmtp.h"
#include "lmtp/lmtp_int.h"
#include "tests/unit/t.h"

struct reply_row {
	const char *line;
	int rc, code, last;
};

static const struct reply_row reply_rows[] = {
	{ "250 2.1.5 OK", 1, 250, 1 },
	{ "250-PIPELINING", 0, 250, 0 },
	{ "250", 1, 250, 1 },
	{ "452 4.2.2 <bob@b.test> Quota exceeded (mailbox for user is full)", 1, 452, 1 },
	{ "550 5.1.1 <x@b.test> User doesn't exist: x@b.test", 1, 550, 1 },
	{ "220 host Dovecot ready.", 1, 220, 1 },
	{ "354 OK", 1, 354, 1 },
	{ "599 odd but well-formed", 1, 599, 1 },
	{ "", -1, 0, 0 },
	{ "25", -1, 0, 0 },
	{ "2500 x", -1, 0, 0 },
	{ "250x", -1, 0, 0 },
	{ "abc def", -1, 0, 0 },
	{ "650 bad class", -1, 0, 0 },
	{ "150 bad class", -1, 0, 0 },
	{ "2a0 bad digit", -1, 0, 0 },
	{ " 250 leading space", -1, 0, 0 },
	{ "250\t tab separator", -1, 0, 0 },
};

static void
reply_row(const struct reply_row *r)
{
	int code = -7, last = -7;
	int rc = lmtp_reply_line(r->line, strlen(r->line), &code, &last);

	T_EQ_INT(rc, r->rc);
	if (rc >= 0) {
		T_EQ_INT(code, r->code);
		T_EQ_INT(last, r->last);
	}
}

static void
t_reply_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(reply_rows) / sizeof(reply_rows[0]); i++)
		T_CASE("t_reply_table", reply_rows[i].line[0] ? reply_rows[i].line : "(empty)",
		    reply_row(&reply_rows[i]));
}

/* The parser sees only the bytes given: a line with a NUL or an overlong
 * text is judged on its first four bytes, and never read past len. */
static void
t_reply_len_bound(void)
{
	char *big = malloc(100000);
	int code, last;

	T_ASSERT(big != NULL);
	memset(big, 'x', 100000);
	memcpy(big, "250 ", 4);
	T_EQ_INT(lmtp_reply_line(big, 100000, &code, &last), 1);
	T_EQ_INT(lmtp_reply_line("250 ", 2, &code, &last), -1);
	T_EQ_INT(lmtp_reply_line("2\0" "0 x", 5, &code, &last), -1);
	free(big);
}

/* Reference stuffing, one call over the whole input. */
static size_t
ref_stuff(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t i, o = 0;
	int bol = 1;

	for (i = 0; i < n; i++) {
		if (bol && in[i] == '.')
			out[o++] = '.';
		out[o++] = in[i];
		bol = in[i] == '\n';
	}
	return o;
}

static void
t_dot_stuff_chunked(void)
{
	static const char msg[] = ".first\r\n..two\r\nmid.dle\r\n.\r\n\r\n.\r\nend.";
	size_t n = sizeof(msg) - 1, split, cap;
	uint8_t ref[200], out[200];
	size_t rl = ref_stuff((const uint8_t *)msg, n, ref);

	T_EQ_INT(rl, n + 4);	/* four lines start with a dot */
	/* input split at every point, and output room from 2 bytes up */
	for (split = 0; split <= n; split++)
		for (cap = 2; cap <= 9; cap++) {
			size_t in_off = 0, o = 0, used;
			int bol = 1;

			while (in_off < n) {
				size_t end = in_off < split ? split : n;
				size_t w = lmtp_dot_stuff(&bol, (const uint8_t *)msg + in_off, end - in_off,
				    &used, out + o, cap);

				T_ASSERT(w <= cap);
				T_ASSERT(w > 0 && used > 0);
				o += w;
				in_off += used;
			}
			T_EQ_MEM(out, o, ref, rl);
		}
}

static void
t_dot_stuff_room(void)
{
	uint8_t out[4];
	size_t used;
	int bol = 1;

	/* room for fewer than 2 bytes: nothing consumed */
	T_EQ_INT(lmtp_dot_stuff(&bol, (const uint8_t *)".", 1, &used, out, 1), 0);
	T_EQ_INT(used, 0);
	T_EQ_INT(lmtp_dot_stuff(&bol, (const uint8_t *)".", 1, &used, out, 2), 2);
	T_EQ_INT(used, 1);
	T_EQ_MEM(out, 2, "..", 2);
	T_EQ_INT(bol, 0);
}

int
main(void)
{
	t_reply_table();
	T_RUN(t_reply_len_bound);
	T_RUN(t_dot_stuff_chunked);
	T_RUN(t_dot_stuff_room);
	return T_END();
}
