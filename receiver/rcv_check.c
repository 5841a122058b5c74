/*
 * rcv_check: see rcv_check.h.  Nothing here parses a file of its own: each
 * check calls the function the gateway calls at start (rcv_server_preflight,
 * the worker's set-up), so `-t` and a start cannot disagree.
 */
#include "receiver/rcv_check.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "lmtp/lmtp.h"
#include "receiver/rcv_config.h"
#include "receiver/rcv_log.h"
#include "receiver/rcv_server.h"
#include "receiver/rcv_tls.h"
#include "verify/vfy.h"

struct check {
	const struct rcv_config *cfg;
	FILE *err;
	const char *prio;	/* "<3>" when err is the journal (ExecStartPre=) */
	unsigned n;
	unsigned warnings;
};

static void
report(void *arg, const char *msg)
{
	struct check *c = arg;

	fprintf(c->err, "%s%s\n", c->prio, msg);
	c->n++;
}

/* One finding about [section] key, at the line that set it or naming the
 * default: a problem ("FILE:LINE: [s] k: ...", counted, -t fails) or a
 * warning (something the gateway starts with but that is likely a mistake). */
static void __attribute__((format(printf, 5, 6)))
finding(struct check *c, int warn, const char *section, const char *name, const char *fmt, ...)
{
	char where[RCV_CONFIG_STR + 32], msg[1024];
	va_list ap;
	int line = rcv_config_where(c->cfg, section, name, where, sizeof(where));

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(c->err, "%s%s: %s[%s] %s%s: %s\n", warn ? (*c->prio ? "<4>" : "") : c->prio,
	    where, warn ? "warning: " : "", section, name, line == 0 ? " (default)" : "", msg);
	if (warn)
		c->warnings++;
	else
		c->n++;
}
#define problem(c, ...) finding((c), 0, __VA_ARGS__)
#define warning(c, ...) finding((c), 1, __VA_ARGS__)

/* The gateway's start-up warnings (rcv_main.c, rcv_server.c) and settings
 * that work but are seldom meant. */
static void
check_warnings(struct check *c)
{
	const struct rcv_config *cfg = c->cfg;
	struct stat sb;

	if (cfg->authserv_id_derived)
		warning(c, "headers", "authserv_id", "not set: the gateway uses %s (from hostname %s); "
		    "set it to one value on every gateway of the domain", cfg->authserv_id, cfg->hostname);
	if (strchr(cfg->hostname, '.') == NULL)
		warning(c, "server", "hostname", "'%s' is not a fully qualified name: senders reach a "
		    "gateway by the name in its SRV record", cfg->hostname);
	if (cfg->dns_cache_redis && cfg->cache_key_file[0] == '\0')
		warning(c, "redis", "cache_key_file", "not set with [dns] cache = redis: whoever can "
		    "write to Redis can forge DNSSEC results for every gateway");
	if (cfg->cache_key_file[0] && stat(cfg->cache_key_file, &sb) == 0 && (sb.st_mode & 0004))
		warning(c, "redis", "cache_key_file", "%s is world-readable", cfg->cache_key_file);
	if (cfg->min_version == 12)
		warning(c, "tls", "min_version", "TLS 1.2 accepted (SMTPSEC.md 1: not recommended)");
	if (cfg->ct_min_scts == 0)
		warning(c, "verify", "ct_min_scts", "0: Certificate Transparency is not checked");
	if (strncmp(cfg->lmtp_target, "unix:/", 6) == 0 && !rcv_config_bad(cfg, "lmtp", "target") &&
	    (stat(cfg->lmtp_target + 5, &sb) < 0 || !S_ISSOCK(sb.st_mode)))
		warning(c, "lmtp", "target", "%s is not a socket (yet): until it is, Emails get a "
		    "temporary failure", cfg->lmtp_target + 5);
}

static void
check_tls(struct check *c)
{
	const struct rcv_config *cfg = c->cfg;
	char why[512];
	WOLFSSL_CTX *ctx;

	if (cfg->certificate[0] == '\0' || cfg->key[0] == '\0' || rcv_config_bad(cfg, "tls", "certificate") ||
	    rcv_config_bad(cfg, "tls", "key"))
		return;		/* reported by the loader */
	ctx = rcv_tls_server_ctx(cfg->certificate, cfg->key, cfg->min_version, why, sizeof(why));
	if (ctx != NULL) {
		wolfSSL_CTX_free(ctx);
		return;
	}
	if (strncmp(why, "cannot load certificate", 23) == 0)
		problem(c, "tls", "certificate", "%s", why);
	else
		problem(c, "tls", "key", "%s", why);
}

static void
check_verify(struct check *c)
{
	const struct rcv_config *cfg = c->cfg;
	char why[512];

	/* each reason names the file */
	if (cfg->ca_file[0] && !rcv_config_bad(cfg, "verify", "ca_file") &&
	    vfy_ca_file_check(cfg->ca_file, NULL, why, sizeof(why)) < 0)
		problem(c, "verify", "ca_file", "%s", why);
	if (cfg->ct_log_list[0] && !rcv_config_bad(cfg, "verify", "ct_log_list") &&
	    vfy_ct_log_list_check(cfg->ct_log_list, NULL, NULL, why, sizeof(why)) < 0)
		problem(c, "verify", "ct_log_list", "%s", why);
}

static void
check_dns(struct check *c, struct ev_loop *loop)
{
	const struct rcv_config *cfg = c->cfg;
	char why[512];

	if (cfg->trust_anchor_file[0] && !rcv_config_bad(cfg, "dns", "trust_anchor_file") &&
	    vfy_dns_check_trust_anchor(cfg->trust_anchor_file, why, sizeof(why)) < 0)
		problem(c, "dns", "trust_anchor_file", "%s", why);
	if (cfg->unbound_conf[0] && !rcv_config_bad(cfg, "dns", "unbound_conf")) {
		/* the worker's libunbound set-up, with this file alone */
		struct vfy_dns_options o = { .unbound_conf = cfg->unbound_conf, .cache = VFY_DNS_CACHE_MEMORY,
		    .cache_entries = 16 };
		struct vfy_dns *d = NULL;

		if (vfy_dns_init(&d, loop, &o, why, sizeof(why)) < 0)
			problem(c, "dns", "unbound_conf", "%s", why);
		vfy_dns_deinit(&d);
	}
}

static void
check_lmtp(struct check *c, struct ev_loop *loop)
{
	const struct rcv_config *cfg = c->cfg;
	/* the worker's LMTP set-up without the spool (checked below, and
	 * lmtp_init would create it) */
	struct lmtp_options o = { .target = cfg->lmtp_target, .lhlo_name = cfg->hostname };
	struct lmtp *l = NULL;
	char why[512];

	if (rcv_config_bad(cfg, "lmtp", "target"))
		return;
	if (lmtp_init(&l, loop, &o, why, sizeof(why)) < 0)
		problem(c, "lmtp", "target", "%s", why);
	lmtp_deinit(&l);
}

/* 0 when the directory can be written and searched by the user the
 * workers run as: [server] user when started as root (the same privilege
 * drop as rcv_server: no supplementary groups), else this user.  Otherwise
 * an errno. */
static int
spool_access(const char *dir, const struct passwd *pw)
{
	pid_t pid;
	int st;

	if (pw == NULL)
		return access(dir, W_OK | X_OK) == 0 ? 0 : errno;
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
			_exit(EPERM);
		_exit(access(dir, W_OK | X_OK) == 0 ? 0 : errno & 0x7f);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EPERM;
}

static void
check_local(struct check *c)
{
	const struct rcv_config *cfg = c->cfg;
	const struct passwd *pw = NULL, *me;
	char who[80];
	struct stat sb;
	int e;

	if (cfg->user[0] && !rcv_config_bad(cfg, "server", "user")) {
		pw = getpwnam(cfg->user);
		if (pw == NULL)
			problem(c, "server", "user", "unknown user %s", cfg->user);
	}
	if (geteuid() != 0)
		pw = NULL;	/* the gateway drops privileges only when root */
	me = pw != NULL ? pw : getpwuid(geteuid());
	if (me != NULL)
		snprintf(who, sizeof(who), "user %s", me->pw_name);
	else
		snprintf(who, sizeof(who), "uid %u", (unsigned)geteuid());
	if (cfg->spool_dir[0] && !rcv_config_bad(cfg, "lmtp", "spool_dir")) {
		if (stat(cfg->spool_dir, &sb) < 0)
			problem(c, "lmtp", "spool_dir", "%s: %s", cfg->spool_dir, strerror(errno));
		else if (!S_ISDIR(sb.st_mode))
			problem(c, "lmtp", "spool_dir", "%s: not a directory", cfg->spool_dir);
		else if ((e = spool_access(cfg->spool_dir, pw)) != 0)
			problem(c, "lmtp", "spool_dir", "%s: not writable by %s (the gateway's workers): %s",
			    cfg->spool_dir, who, strerror(e));
	}
	if (cfg->cache_key_file[0] && !rcv_config_bad(cfg, "redis", "cache_key_file")) {
		char why[512];

		if (rcv_server_load_cache_key(cfg, why, sizeof(why)) < 0)
			problem(c, "redis", "cache_key_file", "%s", why);
	}
}

unsigned
rcv_check_config(const char *path, struct rcv_config *cfg, FILE *err, unsigned *warnings_r)
{
	struct check c = { cfg, err, "", 0, 0 };
	struct ev_loop *loop;
	int verbosity;

	/* under systemd each line is an error in `journalctl -p err` */
	if (err == stderr && rcv_log_journal())
		c.prio = "<3>";
	*warnings_r = 0;
	if (access(path, R_OK) != 0) {
		fprintf(err, "%s%s: %s\n", c.prio, path, strerror(errno));
		return 1;	/* no file: nothing else to check */
	}
	rcv_config_load_all(path, cfg, report, &c);
	/* the loaders' own log lines (rcv_server_load_cache_key warns through
	 * rcv_log): reported here as FILE:LINE lines instead */
	verbosity = rcv_log_verbosity;
	rcv_log_verbosity = -1;
	rcv_tls_global_init();
	check_tls(&c);
	check_verify(&c);
	loop = ev_loop_new(EVFLAG_AUTO);
	if (loop == NULL) {
		rcv_log_verbosity = verbosity;
		fprintf(err, "%s%s: cannot create an event loop\n", c.prio, path);
		return c.n + 1;
	}
	check_dns(&c, loop);
	check_lmtp(&c, loop);
	ev_loop_destroy(loop);
	check_local(&c);
	rcv_log_verbosity = verbosity;
	if (c.n == 0)
		check_warnings(&c);
	*warnings_r = c.warnings;
	return c.n;
}
