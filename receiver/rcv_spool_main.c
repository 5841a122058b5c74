/*
 * smtpsec-spool: list, inspect, retry now and remove the Emails a gateway
 * spooled after a 4xx from the mailstore (lmtp/lmtp_spool.c), like
 * postqueue/postsuper.  Safe while the gateway runs: a change takes the
 * same flock claim a worker's retry takes, so an entry being delivered is
 * left alone ("busy", exit 75: try again).  The commands: usage() below.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cli.h"
#include "base/mem.h"
#include "lmtp/lmtp.h"
#include "receiver/rcv_config.h"

static int
usage(FILE *f, int code)
{
	fprintf(f,
	    "usage: smtpsec-spool [-c CONFIG | -d DIR] list\n"
	    "       smtpsec-spool [-c CONFIG | -d DIR] show [--body] ID\n"
	    "       smtpsec-spool [-c CONFIG | -d DIR] retry ID... | --all\n"
	    "       smtpsec-spool [-c CONFIG | -d DIR] remove ID...\n"
	    "  -c CONFIG   the gateway's configuration ([lmtp] spool_dir; default\n"
	    "              /etc/smtpsec/smtpsec-gateway.conf)\n"
	    "  -d DIR      the spool directory itself\n"
	    "  list        every spooled Email, oldest first, then those in failed/\n"
	    "  show ID     its sender, waiting recipients, attempts, next retry and the\n"
	    "              header of the copy (--body: the whole copy)\n"
	    "  retry       due at the gateway's next spool scan; an entry in failed/\n"
	    "              goes back into the spool with its age restarted\n"
	    "  remove      delete it (the recipients will not get it)\n"
	    "An entry a gateway worker is delivering at that moment is left alone.\n"
	    "  -h, --help  this text;  -V, --version  print the version\n"
	    "Exit: 0 ok, 64 usage, 66 no such entry, 75 busy (try again), 78 config.\n");
	return code;
}

static void
when(char *buf, size_t len, uint64_t t, time_t now)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0 || (time_t)t <= now) {
		snprintf(buf, len, "due");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
age(char *buf, size_t len, uint64_t created, time_t now)
{
	long long s = (long long)now - (long long)created;

	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, len, "%llds", s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%lldh", s / 3600);
	else
		snprintf(buf, len, "%lldd", s / 86400);
}

static const char *
state(const struct lmtp_spool_item *it)
{
	if (it->unreadable)
		return "unreadable";
	if (it->failed)
		return "failed";
	return it->busy ? "delivering" : "waiting";
}

static int
cmd_list(const char *dir)
{
	struct lmtp_spool_item *items;
	size_t n, i, waiting = 0;
	time_t now = time(NULL);

	if (lmtp_spool_items(dir, &items, &n) < 0) {
		fprintf(stderr, "smtpsec-spool: %s: %s\n", dir, strerror(errno));
		return EX_NOINPUT;
	}
	printf("%-28s %-10s %5s %8s %-20s %8s  %s\n", "ID", "STATE", "AGE", "ATTEMPTS", "NEXT", "SIZE",
	    "FROM -> RECIPIENTS");
	for (i = 0; i < n; i++) {
		const struct lmtp_spool_item *it = &items[i];
		char a[32], nx[32];

		age(a, sizeof(a), it->created, now);
		if (it->failed || it->unreadable)
			snprintf(nx, sizeof(nx), "-");
		else
			when(nx, sizeof(nx), it->next, now);
		printf("%-28s %-10s %5s %8llu %-20s %8zu  %s ->", it->id, state(it), it->unreadable ? "-" : a,
		    (unsigned long long)it->attempts, nx, it->size, it->from);
		if (it->n_rcpt > 0)
			printf(" %s", it->rcpt[0]);
		if (it->n_rcpt > 1)
			printf(" (+%zu)", it->n_rcpt - 1);
		printf("\n");
		waiting += !it->failed;
	}
	printf("-- %zu in the spool, %zu in failed/\n", waiting, n - waiting);
	lmtp_spool_items_free(&items, n);
	return 0;
}

static int
cmd_show(const char *dir, const char *id, int body)
{
	struct lmtp_spool_item it;
	char err[512], buf[65536], nx[32], a[32];
	time_t now = time(NULL);
	size_t i, off, hdr_done = 0;
	ssize_t r;
	int fd, nl = 0;

	fd = lmtp_spool_open_item(dir, id, &it, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "smtpsec-spool: %s\n", err);
		return errno == ENOENT ? EX_NOINPUT : EX_SOFTWARE;
	}
	age(a, sizeof(a), it.created, now);
	when(nx, sizeof(nx), it.next, now);
	printf("id: %s\nstate: %s\ncreated: %llu (%s ago)\nattempts: %llu\nnext: %s\nsize: %zu\nfrom: %s\n",
	    it.id, state(&it), (unsigned long long)it.created, a, (unsigned long long)it.attempts,
	    it.failed ? "-" : nx, it.size, it.from);
	for (i = 0; i < it.n_rcpt; i++)
		printf("rcpt: %s\n", it.rcpt[i]);
	printf("\n");
	/* the delivered copy: its header (up to the blank line), or all of it */
	off = it.body_off;
	while ((r = pread(fd, buf, sizeof(buf), (off_t)off)) > 0 && !hdr_done) {
		size_t k, end = (size_t)r;

		if (!body)
			for (k = 0; k < (size_t)r; k++) {
				/* CRLF CRLF or LF LF ends the header */
				if (buf[k] == '\n') {
					if (nl) {
						end = k + 1;
						hdr_done = 1;
						break;
					}
					nl = 1;
				} else if (buf[k] != '\r')
					nl = 0;
			}
		fwrite(buf, 1, end, stdout);
		off += (size_t)r;
	}
	close(fd);
	lmtp_spool_item_clear(&it);
	return 0;
}

static int
change(const char *dir, const char *id, int remove)
{
	char err[512];
	int r = remove ? lmtp_spool_remove(dir, id, err, sizeof(err))
	    : lmtp_spool_retry_now(dir, id, err, sizeof(err));

	if (r == 0) {
		printf("%s: %s\n", id, remove ? "removed" : "queued for the next spool scan");
		return 0;
	}
	fprintf(stderr, "smtpsec-spool: %s\n", err);
	return r == LMTP_SPOOL_BUSY ? EX_TEMPFAIL : r == LMTP_SPOOL_NOT_FOUND ? EX_NOINPUT : EX_SOFTWARE;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "body", no_argument, NULL, 'b' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfgfile = NULL, *dir = NULL, *cmd;
	char dirbuf[RCV_CONFIG_STR];
	int body = 0, all = 0, opt, rc = 0, i;

	opterr = 0;	/* reported by cli_usage_error */
	while ((opt = getopt_long(argc, argv, "+:c:d:hV", lo, NULL)) != -1) {
		switch (opt) {
		case 'c': cfgfile = optarg; break;
		case 'd': dir = optarg; break;
		case 'b': body = 1; break;
		case 'a': all = 1; break;
		case 'h': return usage(stdout, EX_OK);
		case 'V': return cli_version("smtpsec-spool");
		default:	/* ':' or '?' */
			return cli_usage_error("smtpsec-spool", "%s", cli_bad_option(opt, argv, dirbuf,
			    sizeof(dirbuf)));
		}
	}
	if (optind >= argc || (cfgfile != NULL && dir != NULL))
		return usage(stderr, EX_USAGE);
	cmd = argv[optind++];
	/* options after the command: show --body, retry --all */
	while ((opt = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (opt) {
		case 'b': body = 1; break;
		case 'a': all = 1; break;
		default: return usage(stderr, EX_USAGE);
		}
	}
	if (dir == NULL) {
		struct rcv_config *cfg = mem_alloc(sizeof(*cfg));
		char err[1024];

		if (cfgfile == NULL)
			cfgfile = "/etc/smtpsec/smtpsec-gateway.conf";
		if (rcv_config_load(cfgfile, cfg, 1, err, sizeof(err)) < 0) {
			fprintf(stderr, "smtpsec-spool: %s\n", err);
			free(cfg);
			return EX_CONFIG;
		}
		if (cfg->spool_dir[0] == '\0') {
			fprintf(stderr, "smtpsec-spool: %s sets no [lmtp] spool_dir\n", cfgfile);
			free(cfg);
			return EX_CONFIG;
		}
		snprintf(dirbuf, sizeof(dirbuf), "%s", cfg->spool_dir);
		dir = dirbuf;
		free(cfg);
	}
	if (strcmp(cmd, "list") == 0 && optind == argc && !body && !all)
		return cmd_list(dir);
	if (strcmp(cmd, "show") == 0 && optind + 1 == argc && !all)
		return cmd_show(dir, argv[optind], body);
	if (strcmp(cmd, "retry") == 0 && all && optind == argc && !body) {
		struct lmtp_spool_item *items;
		size_t n, k;

		if (lmtp_spool_items(dir, &items, &n) < 0) {
			fprintf(stderr, "smtpsec-spool: %s: %s\n", dir, strerror(errno));
			return EX_NOINPUT;
		}
		/* --all: the spool, not failed/ (name those one by one) */
		for (k = 0; k < n; k++)
			if (!items[k].failed && !items[k].unreadable) {
				int r = change(dir, items[k].id, 0);
				if (r > rc)
					rc = r;
			}
		lmtp_spool_items_free(&items, n);
		return rc;
	}
	if ((strcmp(cmd, "retry") == 0 || strcmp(cmd, "remove") == 0) && optind < argc && !all && !body) {
		for (i = optind; i < argc; i++) {
			int r = change(dir, argv[i], strcmp(cmd, "remove") == 0);
			if (r > rc)
				rc = r;
		}
		return rc;
	}
	return usage(stderr, EX_USAGE);
}
