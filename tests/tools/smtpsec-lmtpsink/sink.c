/*
 * smtpsec-lmtpsink: a fast LMTP server that accepts everything and stores
 * nothing, for the gateway capacity benchmark (the mailstore taken out of
 * the measurement).  Speaks LHLO, MAIL, RCPT, DATA, BDAT [LAST], RSET,
 * NOOP, QUIT; one 250 per recipient after the data, as LMTP requires.
 *
 *   smtpsec-lmtpsink --unix PATH [--max-seconds S]
 *
 * Exits on SIGTERM or after --max-seconds (default 600).  Prints
 * "sink messages=N bytes=N" when it stops.
 */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct sess {
	struct ev_io io;
	int fd;
	char in[65536];
	size_t len;
	unsigned rcpts;
	uint64_t bdat_left;
	int bdat_last, in_data;
};

static unsigned long long n_msgs, n_bytes;

static void
out(struct sess *s, const char *p)
{
	size_t n = strlen(p);

	while (n > 0) {
		ssize_t w = write(s->fd, p, n);

		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void
finish_msg(struct sess *s)
{
	unsigned i;

	n_msgs++;
	for (i = 0; i < s->rcpts; i++)
		out(s, "250 2.0.0 ok\r\n");
	s->rcpts = 0;
}

static void
on_read(struct ev_loop *loop, struct ev_io *w, int revents)
{
	struct sess *s = (struct sess *)w;
	ssize_t n;
	size_t pos = 0;

	(void)revents;
	n = read(s->fd, s->in + s->len, sizeof(s->in) - s->len);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		ev_io_stop(loop, w);
		close(s->fd);
		free(s);
		return;
	}
	s->len += (size_t)n;
	n_bytes += (unsigned long long)n;
	while (pos < s->len) {
		if (s->bdat_left > 0) {
			size_t take = s->len - pos < s->bdat_left ? s->len - pos : (size_t)s->bdat_left;

			pos += take;
			s->bdat_left -= take;
			if (s->bdat_left == 0) {
				if (s->bdat_last)
					finish_msg(s);
				else
					out(s, "250 2.0.0 chunk ok\r\n");
			}
			continue;
		}
		{
			char *nl = memchr(s->in + pos, '\n', s->len - pos);
			char line[512];
			size_t ll;

			if (nl == NULL)
				break;
			ll = (size_t)(nl - (s->in + pos));
			if (s->in_data) {
				if (ll == 2 && s->in[pos] == '.' && s->in[pos + 1] == '\r') {
					s->in_data = 0;
					finish_msg(s);
				}
				pos += ll + 1;
				continue;
			}
			snprintf(line, sizeof(line), "%.*s", (int)(ll < 500 ? ll : 500), s->in + pos);
			pos += ll + 1;
			if (strncasecmp(line, "LHLO", 4) == 0)
				out(s, "250-sink\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
			else if (strncasecmp(line, "MAIL", 4) == 0)
				out(s, "250 2.1.0 ok\r\n");
			else if (strncasecmp(line, "RCPT", 4) == 0) {
				s->rcpts++;
				out(s, "250 2.1.5 ok\r\n");
			} else if (strncasecmp(line, "DATA", 4) == 0) {
				s->in_data = 1;
				out(s, "354 go\r\n");
			} else if (strncasecmp(line, "BDAT", 4) == 0) {
				s->bdat_left = strtoull(line + 5, NULL, 10);
				s->bdat_last = strstr(line, "LAST") != NULL;
				if (s->bdat_left == 0) {
					if (s->bdat_last)
						finish_msg(s);
					else
						out(s, "250 2.0.0 chunk ok\r\n");
				}
			} else if (strncasecmp(line, "QUIT", 4) == 0) {
				out(s, "221 bye\r\n");
			} else
				out(s, "250 2.0.0 ok\r\n");
		}
	}
	memmove(s->in, s->in + pos, s->len - pos);
	s->len -= pos;
}

static void
on_accept(struct ev_loop *loop, struct ev_io *w, int revents)
{
	int fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);
	struct sess *s;

	(void)revents;
	if (fd < 0)
		return;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		abort();
	s->fd = fd;
	ev_io_init(&s->io, on_read, fd, EV_READ);
	ev_io_start(loop, &s->io);
	out(s, "220 sink ready\r\n");
}

static void
on_term(struct ev_loop *loop, struct ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void
on_timeout(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "unix", 1, NULL, 'u' }, { "max-seconds", 1, NULL, 'm' }, { NULL, 0, NULL, 0 },
	};
	struct ev_loop *loop = EV_DEFAULT;
	struct sockaddr_un un;
	struct ev_io lio;
	struct ev_signal sig;
	struct ev_timer tmo;
	const char *path = NULL;
	double max = 600;
	int opt, fd;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'u')
			path = optarg;
		else if (opt == 'm')
			max = atof(optarg);
		else
			return 64;
	}
	if (path == NULL || strlen(path) >= sizeof(un.sun_path) || !(max > 0 && max <= 3600))
		return 64;
	signal(SIGPIPE, SIG_IGN);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	strcpy(un.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0 || listen(fd, 512) < 0) {
		perror(path);
		return 1;
	}
	ev_io_init(&lio, on_accept, fd, EV_READ);
	ev_io_start(loop, &lio);
	ev_signal_init(&sig, on_term, SIGTERM);
	ev_signal_start(loop, &sig);
	ev_timer_init(&tmo, on_timeout, max, 0);
	ev_timer_start(loop, &tmo);
	ev_run(loop, 0);
	printf("sink messages=%llu bytes=%llu\n", n_msgs, n_bytes);
	unlink(path);
	return 0;
}
