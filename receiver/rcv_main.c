/*
 * smtpsec-gateway: the SMTPsec receiving gateway.
 *
 *   smtpsec-gateway [-f] [-v] [-c FILE]        run (foreground with -f)
 *   smtpsec-gateway -t [-c FILE]               check the configuration and what it names
 *   smtpsec-gateway -n|-d [-P] [-c FILE]       print it (changed keys / every key)
 *   smtpsec-gateway [-c FILE] --print-dns DOMAIN
 *
 * Exit codes (sysexits): 0, 64 usage, 69 a listener cannot be bound, 71
 * fork failed, 78 configuration (file, certificate, key, trust anchor...).
 * Every start error is one rcv_log line (journald priority err).
 *
 * --insecure-skip-chain-checks exists only when compiled with
 * SMTPSEC_TEST_HOOKS (the build tree's gateway the tests run), not in the
 * one `make install` installs (Makefile: build/product/).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "receiver/rcv_check.h"
#include "base/cli.h"
#include "receiver/rcv_config.h"
#include "receiver/rcv_log.h"
#include "receiver/rcv_server.h"
#include "receiver/rcv_tls.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: smtpsec-gateway [-f] [-v] [-c FILE]\n"
	    "       smtpsec-gateway -t [-c FILE]\n"
	    "       smtpsec-gateway -n|-d [-P] [-c FILE]\n"
	    "       smtpsec-gateway [-c FILE] --print-dns DOMAIN\n"
	    "\n"
	    "  -c, --config FILE     configuration (default /etc/smtpsec/smtpsec-gateway.conf)\n"
	    "  -f, --foreground      stay in the foreground\n"
	    "  -t, --test            check the configuration and everything it names (certificate,\n"
	    "                        key, CA file, trust anchor, CT log list, unbound_conf, spool\n"
	    "                        directory, LMTP target): every problem as FILE:LINE on stderr,\n"
	    "                        exit 78; exit 0 when all is well\n"
	    "  -n, --print-changed   print the settings that differ from the defaults\n"
	    "  -d, --print-all       print every setting (\"# default: X\" where it differs)\n"
	    "  -P, --show-passwords  with -n/-d: print the Redis password (default *****)\n"
	    "  -v, --verbose         debug logging\n"
	    "      --print-dns DOMAIN  print the SRV and TLSA records to publish\n"
	    "      --workers N       override [server] workers (1-64, or auto)\n"
	    "      --syslog          log to syslog (facility mail) instead of stderr\n"
#ifdef SMTPSEC_TEST_HOOKS
	    "      --insecure-skip-chain-checks\n"
	    "                        TESTS ONLY: deliver without SMTPSEC.md 4 steps 5-9\n"
#endif
	    "  -h, --help            this text\n"
	    "  -V, --version         print the version\n"
	    "exit: 0 ok, 64 usage, 69 cannot listen, 78 configuration\n");
}

/* A start error: one log line (journald priority err), then exit code;
 * a usage error (EX_USAGE) points to --help. */
static int __attribute__((format(printf, 2, 3)))
start_fail(int code, const char *fmt, ...)
{
	char msg[1024], q[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (code == EX_USAGE)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " (smtpsec-gateway --help)");
	rcv_log(RCV_LOG_ERR, "conn=- event=start result=fail exit=%d why=%s", code,
	    rcv_log_q(q, sizeof(q), msg, strlen(msg)));
	return code;
}

static int
print_dns(const struct rcv_config *cfg, const char *domain)
{
	uint8_t h[32];
	char err[256];
	size_t i, n;
	char dom[256], host[256];
	int port = cfg->n_listen ? cfg->listen[0].port : 4650, named = 0;

	snprintf(dom, sizeof(dom), "%s", domain);
	n = strlen(dom);
	while (n && dom[n - 1] == '.')
		dom[--n] = '\0';
	if (n == 0)
		return start_fail(EX_USAGE, "--print-dns: empty domain");
	snprintf(host, sizeof(host), "%s", cfg->hostname);
	n = strlen(host);
	while (n && host[n - 1] == '.')
		host[--n] = '\0';
	/* an SRV target is a fully qualified name: "vm" would be read as
	 * "vm." (a TLD) by every sender */
	if (n == 0 || strchr(host, '.') == NULL || host[0] == '.' || strstr(host, "..") != NULL)
		return start_fail(EX_CONFIG, "hostname '%s' is not a fully qualified domain name: "
		    "set [server] hostname to the name senders reach this gateway by (the SRV target, "
		    "e.g. mx1.%s)", cfg->hostname, dom);
	if (strchr(dom, '.') == NULL)
		return start_fail(EX_USAGE, "--print-dns: '%s' is not a fully qualified domain name", domain);
	if (rcv_tls_cert_spki_sha256(cfg->certificate, h, &named, host, err, sizeof(err)) < 0)
		return start_fail(EX_CONFIG, "%s", err);
	if (!named)
		fprintf(stderr, "smtpsec-gateway: warning: certificate %s does not name %s (dNSName): "
		    "senders will refuse it (SMTPSEC.md 4 step 6)\n", cfg->certificate, host);
	/* SMTPSEC.md 1 and 10: SRV for discovery, DANE-EE SPKI SHA-256 */
	printf("; SMTPsec records for %s served by this gateway (%s port %d).\n", dom, host, port);
	printf("; A fleet: one SRV line per gateway (equal priority and weight share the load),\n"
	    "; and each gateway's own TLSA, published before its SRV line; authserv_id\n"
	    "; (%s), ca_file, ct_log_list and cache_key_file the same on every gateway.\n",
	    cfg->authserv_id);
	printf("_smtpsec._tcp.%s. IN SRV 10 10 %d %s.\n", dom, port, host);
	printf("_%d._tcp.%s. IN TLSA 3 1 1 ", port, host);
	for (i = 0; i < sizeof(h); i++)
		printf("%02x", h[i]);
	printf("\n");
	return 0;
}

static int
write_pid_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), n;

	if (fd < 0)
		return -1;
	n = dprintf(fd, "%d\n", (int)getpid());
	return close(fd) == 0 && n > 0 ? 0 : -1;
}

enum { O_PRINT_DNS = 256, O_WORKERS, O_SKIP, O_SYSLOG, O_CONF_MAN };

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "test", no_argument, NULL, 't' },
		{ "print-changed", no_argument, NULL, 'n' },
		{ "print-all", no_argument, NULL, 'd' },
		{ "show-passwords", no_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "print-dns", required_argument, NULL, O_PRINT_DNS },
		{ "workers", required_argument, NULL, O_WORKERS },
#ifdef SMTPSEC_TEST_HOOKS
		/* the build tree's gateway only: not in the one make install installs */
		{ "insecure-skip-chain-checks", no_argument, NULL, O_SKIP },
#endif
		{ "syslog", no_argument, NULL, O_SYSLOG },
		/* the build writes smtpsec-gateway.conf(5) with it (not in --help) */
		{ "print-conf-man", no_argument, NULL, O_CONF_MAN },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = "/etc/smtpsec/smtpsec-gateway.conf", *dns = NULL;
	static struct rcv_config cfg;
	int foreground = 0, test = 0, dump = -1, dump_flags = 0, skip = 0, use_syslog = 0, ch, fds[RCV_CONFIG_MAX_LISTEN];
	long workers = -1;
	unsigned long long v;
	char err[512];
	size_t i;
	int rc;

	opterr = 0;	/* reported below, through the log */
	while ((ch = getopt_long(argc, argv, ":c:fndtPvhV", lo, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'n':
			dump = RCV_CONFIG_DUMP_CHANGED;
			break;
		case 'd':
			dump = 0;
			break;
		case 'P':
			dump_flags |= RCV_CONFIG_DUMP_SECRETS;
			break;
		case 'v':
			rcv_log_verbosity = RCV_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			return cli_version("smtpsec-gateway");
		case O_PRINT_DNS:
			dns = optarg;
			break;
		case O_WORKERS:
			if (strcmp(optarg, "auto") == 0)
				workers = 0;
			else if (cli_uint(optarg, 1, 64, &v) == 0)
				workers = (long)v;
			else
				return start_fail(EX_USAGE, "--workers: '%s' is not auto or a number from 1 to 64", optarg);
			break;
		case O_SKIP:
			skip = 1;
			break;
		case O_SYSLOG:
			use_syslog = 1; /* after the options: usage errors reach the terminal */
			break;
		case O_CONF_MAN:
			rcv_config_man(stdout, CLI_VERSION);
			return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
		default:	/* ':' or '?' */
			return start_fail(EX_USAGE, "%s", cli_bad_option(ch, argv, err, sizeof(err)));
		}
	}
	if (optind != argc)
		return start_fail(EX_USAGE, "unexpected argument '%s'", argv[optind]);
	if (test + (dump >= 0) + (dns != NULL) > 1)
		return start_fail(EX_USAGE, "-t, -n, -d and --print-dns do not go together");
	if (use_syslog)
		rcv_log_syslog(1);
	if (test) {
		unsigned w, n = rcv_check_config(conf, &cfg, stderr, &w);

		if (n) {
			fprintf(stderr, "%s%s: %u problem%s\n", rcv_log_journal() ? "<3>" : "", conf, n,
			    n == 1 ? "" : "s");
			return EX_CONFIG;
		}
		if (w)
			printf("%s: ok, %u warning%s\n", conf, w, w == 1 ? "" : "s");
		else
			printf("%s: ok\n", conf);
		return EX_OK;
	}
	if (rcv_config_load(conf, &cfg, 0, err, sizeof(err)) != 0)
		return start_fail(EX_CONFIG, "%s", err);	/* restarting cannot help */
	rcv_log(RCV_LOG_DEBUG, "conn=- event=config path=%s listeners=%zu workers=%u lmtp=%s spool_dir=%s "
	    "redis=%s", conf, cfg.n_listen, cfg.workers, cfg.lmtp_target, cfg.spool_dir,
	    cfg.have_redis ? "yes" : "no");
	if (dump >= 0) {
		rcv_config_dump(&cfg, stdout, dump | dump_flags);
		return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
	}
	if (dns)
		return print_dns(&cfg, dns);
	if (workers >= 0)
		cfg.workers = (unsigned)workers;
#ifdef SMTPSEC_TEST_HOOKS
	/* a flag that turns verification off must not work by accident, even
	 * in the build tree: the test harness also sets SMTPSEC_TEST_MODE=1 */
	if (skip && (getenv("SMTPSEC_TEST_MODE") == NULL || strcmp(getenv("SMTPSEC_TEST_MODE"), "1") != 0))
		return start_fail(EX_USAGE, "refusing --insecure-skip-chain-checks outside the test suite (it needs "
		    "SMTPSEC_TEST_MODE=1 in the environment)");
	if (skip)
		rcv_log(RCV_LOG_WARN, "conn=- event=start warning=\"--insecure-skip-chain-checks: "
		    "SMTPSEC.md 4 steps 5-9 are NOT run; for tests only\"");
#endif
	/* a local fault is a configuration error at start (EX_CONFIG), never
	 * a verdict on a sender at run time */
	if (rcv_server_load_cache_key(&cfg, err, sizeof(err)) < 0)
		return start_fail(EX_CONFIG, "%s", err);
	if (rcv_server_preflight(&cfg, skip, err, sizeof(err)) < 0)
		return start_fail(EX_CONFIG, "%s", err);
	rcv_log(RCV_LOG_DEBUG, "conn=- event=config result=loaded certificate=%s ca_file=%s ct_log_list=%s "
	    "trust_anchor_file=%s", cfg.certificate, skip ? "-" : cfg.ca_file, skip ? "-" : cfg.ct_log_list,
	    skip ? "-" : cfg.trust_anchor_file);
	if (rcv_server_bind(&cfg, fds, err, sizeof(err)) < 0)
		return start_fail(EX_UNAVAILABLE, "%s", err);
	for (i = 0; i < cfg.n_listen; i++)
		rcv_log(RCV_LOG_DEBUG, cfg.listen[i].v6 ? "conn=- event=listen address=[%s]:%d fd=%d" :
		    "conn=- event=listen address=%s:%d fd=%d", cfg.listen[i].host, cfg.listen[i].port, fds[i]);
	if (!foreground && getenv("NOTIFY_SOCKET") == NULL) {
		if (daemon(0, 1) < 0)
			return start_fail(EX_OSERR, "daemon: %s", strerror(errno));
	}
	if (cfg.pid_file[0] && write_pid_file(cfg.pid_file) < 0)
		rcv_log(RCV_LOG_WARN, "conn=- event=start warning=\"cannot write pid_file %s\"", cfg.pid_file);
	if (cfg.authserv_id_derived)
		rcv_log(RCV_LOG_WARN, "conn=- event=start warning=\"[headers] authserv_id not set: using "
		    "%s (from hostname %s); set it to one value on every gateway of the domain\"",
		    cfg.authserv_id, cfg.hostname);
	rcv_log(RCV_LOG_INFO, "conn=- event=start version=%s config=%s listeners=%zu authserv_id=%s",
	    CLI_VERSION, conf, cfg.n_listen, cfg.authserv_id);
	rcv_log(RCV_LOG_DEBUG, "conn=- event=start workers=%u%s", cfg.workers,
	    cfg.workers ? "" : " (auto: one per CPU)");
	rc = rcv_server_master(&cfg, fds, cfg.n_listen, cfg.workers, skip);
	if (cfg.pid_file[0])
		(void)unlink(cfg.pid_file);
	return rc;
}
