/*
 * smtpsec-gateway: the SMTPsec receiving gateway.
 *
 *   smtpsec-gateway [-f|-d] [-v] -c FILE     run (foreground with -f/-d)
 *   smtpsec-gateway -t -c FILE               check the configuration
 *   smtpsec-gateway -c FILE --print-dns DOMAIN
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "receiver/rcv_config.h"
#include "receiver/rcv_log.h"
#include "receiver/rcv_server.h"
#include "receiver/rcv_tls.h"

#define RCV_VERSION "0.1.0"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: smtpsec-gateway [-f] [-v] -c FILE\n"
	    "       smtpsec-gateway -t -c FILE\n"
	    "       smtpsec-gateway -c FILE --print-dns DOMAIN\n"
	    "\n"
	    "  -c, --config FILE     configuration (default /etc/smtpsec/smtpsec-gateway.conf)\n"
	    "  -f, -d, --foreground  stay in the foreground, log to stderr\n"
	    "  -t, --test            check the configuration and exit 0 (ok) or 1\n"
	    "  -v, --verbose         debug logging\n"
	    "      --print-dns DOMAIN  print the SRV and TLSA records to publish\n"
	    "      --workers N       override [server] workers\n"
	    "      --syslog          also log to syslog (facility mail)\n"
	    "      --insecure-skip-chain-checks\n"
	    "                        TESTS ONLY: deliver without SMTPSEC.md 4 steps 5-9\n"
	    "  -h, --help, --version\n");
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
	if (n == 0) {
		fprintf(stderr, "smtpsec-gateway: empty domain\n");
		return 1;
	}
	snprintf(host, sizeof(host), "%s", cfg->hostname);
	n = strlen(host);
	while (n && host[n - 1] == '.')
		host[--n] = '\0';
	/* an SRV target is a fully qualified name: "vm" would be read as
	 * "vm." (a TLD) by every sender */
	if (n == 0 || strchr(host, '.') == NULL || host[0] == '.' || strstr(host, "..") != NULL) {
		fprintf(stderr, "smtpsec-gateway: hostname '%s' is not a fully qualified domain name: "
		    "set [server] hostname to the name senders reach this gateway by (the SRV target, "
		    "e.g. mx1.%s)\n", cfg->hostname, dom);
		return 1;
	}
	if (strchr(dom, '.') == NULL) {
		fprintf(stderr, "smtpsec-gateway: '%s' is not a fully qualified domain name\n", domain);
		return 1;
	}
	if (rcv_tls_cert_spki_sha256(cfg->certificate, h, &named, host, err, sizeof(err)) < 0) {
		fprintf(stderr, "smtpsec-gateway: %s\n", err);
		return 1;
	}
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
	char buf[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "test", no_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "print-dns", required_argument, NULL, 'P' },
		{ "workers", required_argument, NULL, 'w' },
		{ "insecure-skip-chain-checks", no_argument, NULL, 'S' },
		{ "syslog", no_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = "/etc/smtpsec/smtpsec-gateway.conf", *dns = NULL;
	static struct rcv_config cfg;
	int foreground = 0, test = 0, skip = 0, workers = -1, ch, fds[RCV_CONFIG_MAX_LISTEN];
	char err[512];
	int rc;

	while ((ch = getopt_long(argc, argv, "c:fdtvh", lo, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'f':
		case 'd':
			foreground = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'v':
			rcv_log_verbosity = RCV_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("smtpsec-gateway %s\n", RCV_VERSION);
			return 0;
		case 'P':
			dns = optarg;
			break;
		case 'w':
			workers = atoi(optarg);
			if (workers < 0 || workers > 1024) {
				fprintf(stderr, "smtpsec-gateway: bad --workers\n");
				return 1;
			}
			break;
		case 'S':
			skip = 1;
			break;
		case 'L':
			rcv_log_syslog(1);
			break;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	if (test)
		return rcv_config_check_file(conf, stdout) == 0 ? 0 : 1;
	if (rcv_config_load(conf, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "smtpsec-gateway: %s\n", err);
		return RCV_EXIT_INIT;	/* EX_CONFIG: restarting cannot help */
	}
	if (dns)
		return print_dns(&cfg, dns);
	if (workers >= 0)
		cfg.workers = (unsigned)workers;
	/* a flag that turns verification off must not work by accident on a
	 * production host: the test harness also sets SMTPSEC_TEST_MODE=1 */
	if (skip && (getenv("SMTPSEC_TEST_MODE") == NULL || strcmp(getenv("SMTPSEC_TEST_MODE"), "1") != 0)) {
		fprintf(stderr, "smtpsec-gateway: refusing --insecure-skip-chain-checks outside the test "
		    "suite (it needs SMTPSEC_TEST_MODE=1 in the environment)\n");
		return 1;
	}
	if (skip)
		rcv_log(RCV_LOG_WARN, "conn=- event=start warning=\"--insecure-skip-chain-checks: "
		    "SMTPSEC.md 4 steps 5-9 are NOT run; for tests only\"");
	/* a local fault is a configuration error at start (EX_CONFIG), never
	 * a verdict on a sender at run time */
	if (rcv_server_load_cache_key(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "smtpsec-gateway: %s\n", err);
		return RCV_EXIT_INIT;
	}
	if (rcv_server_preflight(&cfg, skip, err, sizeof(err)) < 0) {
		fprintf(stderr, "smtpsec-gateway: %s\n", err);
		return RCV_EXIT_INIT;
	}
	if (rcv_server_bind(&cfg, fds, err, sizeof(err)) < 0) {
		fprintf(stderr, "smtpsec-gateway: %s\n", err);
		return 1;
	}
	if (!foreground && getenv("NOTIFY_SOCKET") == NULL) {
		if (daemon(0, 1) < 0) {
			fprintf(stderr, "smtpsec-gateway: daemon: %s\n", strerror(errno));
			return 1;
		}
	}
	if (cfg.pid_file[0] && write_pid_file(cfg.pid_file) < 0)
		rcv_log(RCV_LOG_WARN, "conn=- event=start warning=\"cannot write pid_file %s\"", cfg.pid_file);
	if (cfg.authserv_id_derived)
		rcv_log(RCV_LOG_WARN, "conn=- event=start warning=\"[headers] authserv_id not set: using "
		    "%s (from hostname %s); set it to one value on every gateway of the domain\"",
		    cfg.authserv_id, cfg.hostname);
	rcv_log(RCV_LOG_INFO, "conn=- event=start version=%s config=%s listeners=%zu authserv_id=%s",
	    RCV_VERSION, conf, cfg.n_listen, cfg.authserv_id);
	rc = rcv_server_master(&cfg, fds, cfg.n_listen, cfg.workers, skip);
	if (cfg.pid_file[0])
		(void)unlink(cfg.pid_file);
	return rc;
}
