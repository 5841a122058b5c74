/*
 * rcv_log: see rcv_log.h.  Lines go to stderr (journald under systemd
 * adds the timestamp; otherwise we prefix one), one write(2) per line so
 * lines from several workers do not interleave.
 */
#include "receiver/rcv_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

int rcv_log_verbosity = RCV_LOG_INFO;
static int rcv_log_to_syslog;

void
rcv_log_syslog(int on)
{
	if (on && !rcv_log_to_syslog)
		openlog("smtpsec-gateway", LOG_PID | LOG_NDELAY, LOG_MAIL);
	rcv_log_to_syslog = on;
}

void
rcv_log(enum rcv_log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "err", "warn", "info", "debug" };
	char line[4096];
	struct timeval tv;
	struct tm tm;
	size_t n = 0;
	va_list ap;
	int r;

	if ((int)lvl > rcv_log_verbosity)
		return;
	if (getenv("JOURNAL_STREAM") == NULL) {
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof(line) - n, ".%03dZ ", (int)(tv.tv_usec / 1000));
		if (r > 0)
			n += (size_t)r;
	}
	r = snprintf(line + n, sizeof(line) - n, "smtpsec-gateway[%d] %s ", (int)getpid(), names[lvl]);
	if (r > 0)
		n += (size_t)r;
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r < sizeof(line) - n - 1 ? (size_t)r : sizeof(line) - n - 2;
	if (rcv_log_to_syslog) {
		static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
		size_t skip = 0;

		/* syslog adds time and pid: send from the level name on */
		while (skip < n && line[skip] != ']')
			skip++;
		skip = skip + 2 < n ? skip + 2 : 0;
		syslog(prio[lvl], "%.*s", (int)(n - skip), line + skip);
	}
	line[n++] = '\n';
	if (write(2, line, n) < 0)
		return;
}

const char *
rcv_log_q(char *buf, size_t size, const void *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = p;
	size_t i, o = 0;

	if (size < 8) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (i = 0; i < len; i++) {
		uint8_t c = s[i];

		if (o + 8 >= size) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 32 && c < 127 && c != '"' && c != '\\')
			buf[o++] = (char)c;
		else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
