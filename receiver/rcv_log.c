/*
 * rcv_log: see rcv_log.h.  Lines go to stderr, one write(2) per line so
 * lines from several workers do not interleave.  When stderr is the
 * journal (JOURNAL_STREAM names its device and inode, as systemd sets it
 * for StandardError=journal) each line starts with the sd-daemon(3)
 * priority prefix "<N>" and journald adds the timestamp; otherwise we
 * prefix one.  With --syslog, lines go to syslog only.
 */
#include "receiver/rcv_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

int rcv_log_verbosity = RCV_LOG_INFO;
static int rcv_log_to_syslog;

static const int rcv_log_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

int
rcv_log_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	/* "DEV:INO" of the stream; stderr redirected elsewhere does not count */
	if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return 0;
	if (fstat(2, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
rcv_log_syslog(int on)
{
	if (on && !rcv_log_to_syslog)
		openlog("smtpsec-gateway", LOG_PID | LOG_NDELAY, LOG_MAIL);
	rcv_log_to_syslog = on;
}

/* the pid of the line prefix, asked once per process (glibc does not
 * cache getpid(): a system call for each of a connection's log lines);
 * a forked child asks again */
static pid_t log_pid;

static void
log_pid_forget(void)
{
	log_pid = 0;
}

static pid_t
log_getpid(void)
{
	static int registered;

	if (!registered) {
		(void)pthread_atfork(NULL, NULL, log_pid_forget);
		registered = 1;
	}
	if (log_pid == 0)
		log_pid = getpid();
	return log_pid;
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
	if (rcv_log_to_syslog) {	/* syslog adds the time and the pid itself */
		r = snprintf(line, sizeof(line), "%s ", names[lvl]);
	} else if (rcv_log_journal()) {
		r = snprintf(line, sizeof(line), "<%d>smtpsec-gateway[%d] %s ", rcv_log_prio[lvl],
		    (int)log_getpid(), names[lvl]);
	} else {
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof(line) - n, ".%03dZ smtpsec-gateway[%d] %s ",
		    (int)(tv.tv_usec / 1000), (int)log_getpid(), names[lvl]);
	}
	if (r > 0)
		n += (size_t)r;
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r < sizeof(line) - n - 1 ? (size_t)r : sizeof(line) - n - 2;
	if (rcv_log_to_syslog) {
		syslog(rcv_log_prio[lvl], "%.*s", (int)n, line);
		return;
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
