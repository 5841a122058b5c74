/* rcv_log's output: the sd-daemon priority prefix when stderr is the
 * journal (JOURNAL_STREAM matches fd 2), a timestamp otherwise, -v's debug
 * lines, and nothing on stderr with --syslog. */
#include "tests/unit/t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "receiver/rcv_log.h"

static char t_path[64];

/* point fd 2 at a fresh temporary file; returns its "dev:ino" */
static void
t_capture(char *id, size_t idlen)
{
	struct stat st;
	int fd;

	snprintf(t_path, sizeof(t_path), "/tmp/test_rcv_log.XXXXXX");
	fd = mkstemp(t_path);
	if (fd < 0)
		abort();
	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	fstat(2, &st);
	snprintf(id, idlen, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
}

/* read what was written since t_capture() into buf */
static void
t_collect(char *buf, size_t len)
{
	FILE *f = fopen(t_path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	unlink(t_path);
}

static int t_saved_err = -1;

static void
t_restore(void)
{
	dup2(t_saved_err, 2);
	unsetenv("JOURNAL_STREAM");
	rcv_log_verbosity = RCV_LOG_INFO;
}

/* stderr is the journal: "<N>" with N the syslog priority, no timestamp */
static void
t_journal_prefix(void)
{
	char id[64], out[2048], want[512];

	t_capture(id, sizeof(id));
	setenv("JOURNAL_STREAM", id, 1);
	rcv_log_verbosity = RCV_LOG_DEBUG;
	rcv_log(RCV_LOG_ERR, "conn=- event=a");
	rcv_log(RCV_LOG_WARN, "conn=- event=b");
	rcv_log(RCV_LOG_INFO, "conn=- event=c");
	rcv_log(RCV_LOG_DEBUG, "conn=- event=d");
	t_collect(out, sizeof(out));
	t_restore();
	snprintf(want, sizeof(want),
	    "<3>smtpsec-gateway[%d] err conn=- event=a\n"
	    "<4>smtpsec-gateway[%d] warn conn=- event=b\n"
	    "<6>smtpsec-gateway[%d] info conn=- event=c\n"
	    "<7>smtpsec-gateway[%d] debug conn=- event=d\n",
	    (int)getpid(), (int)getpid(), (int)getpid(), (int)getpid());
	T_EQ_STR(out, want);
}

/* JOURNAL_STREAM set but stderr redirected elsewhere (a shell's 2>file
 * under a unit), unset, or malformed: a timestamp, no prefix */
static void
t_not_journal(void)
{
	static const char *const envs[] = { "1:1", NULL, "garbage", "1:2x" };
	char id[64], out[2048];
	size_t i;

	for (i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
		t_capture(id, sizeof(id));
		if (envs[i])
			setenv("JOURNAL_STREAM", envs[i], 1);
		else
			unsetenv("JOURNAL_STREAM");
		T_EQ_INT(rcv_log_journal(), 0);
		rcv_log(RCV_LOG_ERR, "conn=- event=x");
		t_collect(out, sizeof(out));
		t_restore();
		/* 2026-11-29T22:40:01.123Z smtpsec-gateway[PID] err conn=- event=x */
		T_ASSERT(strlen(out) > 25 && out[4] == '-' && out[10] == 'T' && out[23] == 'Z');
		T_ASSERT(strstr(out, "] err conn=- event=x\n") != NULL);
		T_ASSERT(out[0] != '<');
	}
}

/* debug lines only with -v (verbosity DEBUG) */
static void
t_verbosity(void)
{
	char id[64], out[2048];

	t_capture(id, sizeof(id));
	rcv_log(RCV_LOG_DEBUG, "conn=- event=hidden");
	rcv_log(RCV_LOG_INFO, "conn=- event=shown");
	t_collect(out, sizeof(out));
	t_restore();
	T_ASSERT(strstr(out, "hidden") == NULL);
	T_ASSERT(strstr(out, "event=shown") != NULL);
}

/* a line longer than the buffer is cut and still ends with one newline */
static void
t_long_line(void)
{
	static char big[8000];
	char id[64], out[16384];
	size_t n;

	memset(big, 'a', sizeof(big) - 1);
	t_capture(id, sizeof(id));
	setenv("JOURNAL_STREAM", id, 1);
	rcv_log(RCV_LOG_WARN, "conn=- v=%s", big);
	t_collect(out, sizeof(out));
	t_restore();
	n = strlen(out);
	T_ASSERT(n > 4000 && n <= 4096);
	T_ASSERT(out[n - 1] == '\n' && strchr(out, '\n') == out + n - 1);
	T_ASSERT(strncmp(out, "<4>", 3) == 0);
}

/* the pid in the prefix is the writer's, also in a forked child (rcv_log
 * keeps it across lines: the workers are forked after the master logged) */
static void
t_pid_after_fork(void)
{
	char id[64], out[2048], want[64];
	pid_t child;
	int st = -1;

	t_capture(id, sizeof(id));
	rcv_log(RCV_LOG_ERR, "conn=- event=parent");
	child = fork();
	if (child == 0) {
		rcv_log(RCV_LOG_ERR, "conn=- event=child");
		_exit(0);
	}
	T_ASSERT(child > 0);
	waitpid(child, &st, 0);
	rcv_log(RCV_LOG_ERR, "conn=- event=parent2");
	t_collect(out, sizeof(out));
	t_restore();
	snprintf(want, sizeof(want), "[%d] err conn=- event=parent\n", (int)getpid());
	T_ASSERT(strstr(out, want) != NULL);
	snprintf(want, sizeof(want), "[%d] err conn=- event=child\n", (int)child);
	T_ASSERT(strstr(out, want) != NULL);
	snprintf(want, sizeof(want), "[%d] err conn=- event=parent2\n", (int)getpid());
	T_ASSERT(strstr(out, want) != NULL);
}

/* --syslog: syslog only, nothing on stderr (journald would store it twice) */
static void
t_syslog_only(void)
{
	char id[64], out[2048];

	t_capture(id, sizeof(id));
	setenv("JOURNAL_STREAM", id, 1);
	rcv_log_syslog(1);
	rcv_log(RCV_LOG_ERR, "conn=- event=test_rcv_log_syslog_only");
	rcv_log_syslog(0);
	t_collect(out, sizeof(out));
	t_restore();
	T_EQ_STR(out, "");
}

int
main(void)
{
	t_saved_err = dup(2);
	T_RUN(t_journal_prefix);
	T_RUN(t_not_journal);
	T_RUN(t_verbosity);
	T_RUN(t_long_line);
	T_RUN(t_syslog_only);
	T_RUN(t_pid_after_fork);
	return T_END();
}
