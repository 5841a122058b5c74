/*
 * t.h: the unit-test harness.  Header only; one test program per file.
 *
 * A case is a function; T_RUN(fn) runs it and prints "PASS: prog/fn" or
 * "FAIL: prog/fn: file:line: why" (the lines tests/run.sh counts).
 * Checks record the first failure of a case and return from it.
 * T_SKIP("why") marks a case skipped with its reason.  T_END() prints the
 * program's counts and returns the exit status from main().
 *
 *   static void t_decode_hello(void) { T_ASSERT(x == 1); T_EQ_INT(a, b); }
 *   int main(void) { T_RUN(t_decode_hello); return T_END(); }
 */
#ifndef T_H
#define T_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_pass_, t_fail_, t_skip_;
static int t_cur_failed_, t_cur_skipped_;
static char t_cur_why_[1024];
static char t_sub_[256];	/* optional sub-case label, see T_CASE() */

static inline void t_failf_(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void
t_failf_(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t_cur_failed_)
		return;
	t_cur_failed_ = 1;
	n = snprintf(t_cur_why_, sizeof(t_cur_why_), "%s:%d: ", file, line);
	if (n < 0 || (size_t)n >= sizeof(t_cur_why_))
		return;
	va_start(ap, fmt);
	vsnprintf(t_cur_why_ + n, sizeof(t_cur_why_) - (size_t)n, fmt, ap);
	va_end(ap);
}

static inline void
t_report_(const char *file, const char *name)
{
	const char *sep = t_sub_[0] ? "/" : "";
	const char *base = strrchr(file, '/');
	int blen;

	base = base ? base + 1 : file;
	blen = (int)strcspn(base, ".");

	if (t_cur_failed_) {
		printf("FAIL: %.*s.%s%s%s: %s\n", blen, base, name, sep, t_sub_, t_cur_why_);
		t_fail_++;
	} else if (t_cur_skipped_) {
		printf("SKIP: %.*s.%s%s%s: %s\n", blen, base, name, sep, t_sub_, t_cur_why_);
		t_skip_++;
	} else {
		printf("PASS: %.*s.%s%s%s\n", blen, base, name, sep, t_sub_);
		t_pass_++;
	}
	fflush(stdout);
	t_cur_failed_ = t_cur_skipped_ = 0;
	t_cur_why_[0] = '\0';
	t_sub_[0] = '\0';
}

/* Run one case function. */
#define T_RUN(fn) do { t_cur_failed_ = t_cur_skipped_ = 0; fn(); t_report_(__FILE__, #fn); } while (0)
/*
 * Table-driven cases: call T_CASE_BEGIN(label) ... T_CASE_END(prefix)
 * around the checks of one row; each row is counted and reported on its own.
 * Checks inside must not `return` past T_CASE_END, so use the *_C forms or
 * a helper function per row.
 */
#define T_CASE(prefix, label, call) do {				\
	t_cur_failed_ = t_cur_skipped_ = 0;				\
	snprintf(t_sub_, sizeof(t_sub_), "%s", (label));		\
	call;								\
	t_report_(__FILE__, prefix);						\
} while (0)

#define T_FAIL(...) do { t_failf_(__FILE__, __LINE__, __VA_ARGS__); return; } while (0)
#define T_SKIP(why) do { t_cur_skipped_ = 1; snprintf(t_cur_why_, sizeof(t_cur_why_), "%s", (why)); return; } while (0)
#define T_ASSERT(c) do { if (!(c)) T_FAIL("assertion failed: %s", #c); } while (0)
#define T_EQ_INT(a, b) do {						\
	long long t_a_ = (long long)(a), t_b_ = (long long)(b);		\
	if (t_a_ != t_b_)							\
		T_FAIL("%s == %lld, expected %s == %lld", #a, t_a_, #b, t_b_); \
} while (0)
#define T_EQ_STR(a, b) do {						\
	const char *t_a_ = (a), *t_b_ = (b);				\
	if (t_a_ == NULL || t_b_ == NULL || strcmp(t_a_, t_b_) != 0)	\
		T_FAIL("%s == \"%s\", expected \"%s\"", #a,		\
		    t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)");	\
} while (0)
#define T_EQ_MEM(a, alen, b, blen) do {					\
	size_t t_al_ = (alen), t_bl_ = (blen);				\
	if (t_al_ != t_bl_ || (t_al_ && memcmp((a), (b), t_al_) != 0))	\
		T_FAIL("%s (%zu bytes) differs from %s (%zu bytes)", #a, t_al_, #b, t_bl_); \
} while (0)

#define T_END() (printf("summary %s pass=%d fail=%d skip=%d\n", __FILE__, t_pass_, t_fail_, t_skip_), t_fail_ ? 1 : 0)

#endif /* T_H */
