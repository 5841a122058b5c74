/*
 * test_buf: the base layer's buffer, allocation, hex and read-cursor
 * helpers (base/buf.h, base/mem.h, base/hex.h, base/cur.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cur.h"
#include "base/hex.h"
#include "base/mem.h"
#include "tests/unit/t.h"

static void
t_add_consume(void)
{
	struct buf b = { 0 };
	size_t i;

	for (i = 0; i < 1000; i++)
		buf_add(&b, "0123456789", 10);
	T_EQ_INT(b.len, 10000);
	T_ASSERT(b.cap > b.len);	/* room for the NUL */
	T_EQ_MEM(b.p + 9990, 10, "0123456789", 10);
	buf_consume(&b, 9995);
	T_EQ_INT(b.len, 5);
	T_EQ_MEM(b.p, b.len, "56789", 5);
	buf_consume(&b, 100);
	T_EQ_INT(b.len, 0);
	buf_add(&b, "", 0);
	T_EQ_INT(b.len, 0);
	buf_free(&b);
	T_ASSERT(b.p == NULL && b.len == 0 && b.cap == 0);
}

static void
t_printf(void)
{
	struct buf b = { 0 };
	char big[5000];
	size_t len;
	uint8_t *p;

	buf_printf(&b, "%s=%d", "n", 42);
	buf_add(&b, ";", 1);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&b, "%s", big);	/* longer than any fixed chunk */
	T_EQ_INT(b.len, 5 + sizeof(big) - 1);
	T_EQ_MEM(b.p, 5, "n=42;", 5);
	T_EQ_INT(b.p[b.len - 1], 'x');
	p = buf_steal(&b, &len);
	T_EQ_INT(len, 5 + sizeof(big) - 1);
	T_EQ_INT(p[len], '\0');
	T_ASSERT(b.p == NULL && b.len == 0);
	free(p);
}

static void
t_read_file(void)
{
	char path[] = "/tmp/test_buf.XXXXXX";
	int fd = mkstemp(path);
	uint8_t data[70000], *p;
	size_t len, i;

	T_ASSERT(fd >= 0);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	T_EQ_INT(write(fd, data, sizeof(data)), (int)sizeof(data));
	close(fd);
	p = buf_read_file(path, sizeof(data), &len);
	T_ASSERT(p != NULL);
	T_EQ_MEM(p, len, data, sizeof(data));
	T_EQ_INT(p[len], '\0');
	free(p);
	/* one byte over the limit: refused with EFBIG */
	errno = 0;
	T_ASSERT(buf_read_file(path, sizeof(data) - 1, &len) == NULL);
	T_EQ_INT(errno, EFBIG);
	unlink(path);
	errno = 0;
	T_ASSERT(buf_read_file(path, 1 << 20, &len) == NULL);
	T_EQ_INT(errno, ENOENT);
}

static void
t_read_fd_over(void)
{
	int fds[2];
	struct buf b = { 0 };

	T_ASSERT(pipe(fds) == 0);
	T_EQ_INT(write(fds[1], "abcdef", 6), 6);
	close(fds[1]);
	T_EQ_INT(buf_read_fd(&b, fds[0], 5), 1);	/* more than 5 */
	close(fds[0]);
	buf_free(&b);
	T_ASSERT(pipe(fds) == 0);
	T_EQ_INT(write(fds[1], "abcde", 5), 5);
	close(fds[1]);
	T_EQ_INT(buf_read_fd(&b, fds[0], 5), 0);	/* exactly 5 */
	T_EQ_MEM(b.p, b.len, "abcde", 5);
	close(fds[0]);
	buf_free(&b);
	T_EQ_INT(buf_read_fd(&b, -1, 5), -1);
	T_EQ_INT(errno, EBADF);
	buf_free(&b);
}

static void
t_mem(void)
{
	size_t cap = 0, i;
	int *a = NULL;
	char *s;

	for (i = 0; i < 100; i++) {
		a = mem_grow(a, &cap, i, sizeof(*a));
		a[i] = (int)i;
	}
	T_ASSERT(cap >= 100 && cap <= 128);
	T_EQ_INT(a[99], 99);
	a = mem_grow(a, &cap, 1000, sizeof(*a));	/* a jump past doubling */
	T_ASSERT(cap > 1000);
	free(a);
	s = mem_dup0("abc", 2);
	T_EQ_STR(s, "ab");
	free(s);
	T_ASSERT(mem_strdup_opt(NULL) == NULL);
	T_ASSERT(mem_strdup_opt("") == NULL);
	s = mem_strdup_opt("x");
	T_EQ_STR(s, "x");
	free(s);
	s = mem_alloc(0);	/* never NULL */
	T_ASSERT(s != NULL);
	free(s);
}

static void
t_hex(void)
{
	static const char digits[] = "0123456789abcdef";
	int c;

	for (c = 0; c < 16; c++) {
		T_EQ_INT(hex_val(digits[c]), c);
		if (c >= 10)
			T_EQ_INT(hex_val(digits[c] - 32), c);
	}
	for (c = 0; c < 256; c++)
		if (strchr("0123456789abcdefABCDEF", c) == NULL || c == 0)
			T_EQ_INT(hex_val(c), -1);
}

static void
t_hex_decode(void)
{
	uint8_t *p;
	size_t len;

	p = hex_decode("00ff7Aa0", 0, &len);
	T_ASSERT(p != NULL);
	T_EQ_MEM(p, len, "\x00\xff\x7a\xa0", 4);
	free(p);
	p = hex_decode("", 0, &len);
	T_ASSERT(p != NULL && len == 0);
	free(p);
	T_ASSERT(hex_decode("abc", 0, &len) == NULL);		/* odd */
	T_ASSERT(hex_decode("zz", 0, &len) == NULL);
	T_ASSERT(hex_decode("ab cd", 0, &len) == NULL);	/* no spaces unless asked */
	p = hex_decode(" ab\ncd\tef ", 1, &len);
	T_ASSERT(p != NULL);
	T_EQ_MEM(p, len, "\xab\xcd\xef", 3);
	free(p);
	T_ASSERT(hex_decode("a b c", 1, &len) == NULL);	/* odd after skipping */
}

static void
t_cur(void)
{
	static const uint8_t in[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09 };
	struct cur c = { in, sizeof(in) };
	const uint8_t *p;
	uint64_t v;

	T_EQ_INT(cur_uint(&c, 2, &v), 0);
	T_EQ_INT(v, 0x0102);
	T_EQ_INT(cur_take(&c, 3, &p), 0);
	T_ASSERT(p == in + 2 && c.left == 4);
	T_EQ_INT(cur_uint(&c, 8, &v), -1);	/* 4 left: nothing consumed */
	T_EQ_INT(c.left, 4);
	T_EQ_INT(cur_take(&c, 5, &p), -1);
	T_EQ_INT(cur_take(&c, UINT64_MAX, &p), -1);
	T_EQ_INT(cur_uint(&c, 4, &v), 0);
	T_EQ_INT(v, 0x06070809);
	T_EQ_INT(c.left, 0);
	T_EQ_INT(cur_be(in, 8), 0x0102030405060708ull);
	{
		uint8_t out[8];

		cur_put_be(out, 0x0102030405060708ull, 8);
		T_EQ_MEM(out, 8, in, 8);
		cur_put_be(out, 0xABCDEF, 3);
		T_EQ_MEM(out, 3, "\xab\xcd\xef", 3);
	}
}

int
main(void)
{
	T_RUN(t_add_consume);
	T_RUN(t_printf);
	T_RUN(t_read_file);
	T_RUN(t_read_fd_over);
	T_RUN(t_mem);
	T_RUN(t_hex);
	T_RUN(t_hex_decode);
	T_RUN(t_cur);
	return T_END();
}
