/* Unit tests for receiver/rcv_config.c: types, defaults, errors with lines. */
#include "receiver/rcv_config.h"
#include "tests/lib/tutil.h"
#include "tests/unit/t.h"

#include <string.h>
#include <unistd.h>

#define BASE "[tls]\ncertificate = /c.pem\nkey = /k.pem\n"

static struct rcv_config cfg;
static char err[1024];
static char dir[] = "/tmp/test_rcv_config.XXXXXX";	/* made by main */

/* text as the file DIR/name, loaded into c the way the gateway loads it */
static int
load_as(const char *name, const char *text, struct rcv_config *c)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		t_failf_(__FILE__, __LINE__, "cannot write %s", path);
		return -2;	/* neither 0 nor -1: every check of it fails */
	}
	err[0] = '\0';
	return rcv_config_load(path, c, 0, err, sizeof(err));
}

static int
load(const char *text)
{
	return load_as("test.conf", text, &cfg);
}

static void
t_defaults(void)
{
	T_ASSERT(load(BASE) == 0);
	T_EQ_INT(cfg.n_listen, 1);
	T_EQ_STR(cfg.listen[0].host, "0.0.0.0");
	T_EQ_INT(cfg.listen[0].port, 4650);
	T_EQ_INT(cfg.workers, 0);
	T_EQ_INT(cfg.min_version, 13);
	T_EQ_STR(cfg.trust_anchor_file, "/usr/share/dns/root.key");
	T_EQ_INT(cfg.dns_timeout_ms, 5000);
	T_EQ_INT(cfg.dns_cache_redis, 0);
	T_EQ_INT(cfg.cache_max_ttl_ms, 3600000);
	T_EQ_INT(cfg.cache_entries, 100000);
	T_EQ_STR(cfg.ca_file, "/etc/ssl/certs/ca-certificates.crt");
	T_EQ_STR(cfg.ct_log_list, "/etc/smtpsec/log_list.json");
	T_EQ_INT(cfg.ct_min_scts, 1);
	T_EQ_STR(cfg.lmtp_target, "unix:/run/dovecot/lmtp");
	T_EQ_INT(cfg.lmtp_connections, 8);
	T_EQ_INT(cfg.lmtp_timeout_ms, 60000);
	T_EQ_STR(cfg.spool_dir, "/var/spool/smtpsec");
	T_EQ_INT(cfg.authserv_id_derived, 1);	/* warned at start */
	T_EQ_INT(cfg.n_trace_allow, 2);
	T_EQ_STR(cfg.trace_allow[0], "Received");
	T_EQ_STR(cfg.trace_allow[1], "X-*");
	T_EQ_INT(cfg.have_redis, 0);
	T_EQ_INT(cfg.stats_interval_ms, 1000);
	T_EQ_INT(cfg.max_message_size, 50 << 20);
	T_EQ_INT(cfg.max_recipients, 1000);
	T_EQ_INT(cfg.max_trace_headers, 100);
	T_EQ_INT(cfg.max_trace_bytes, 64 << 10);
	T_EQ_INT(cfg.max_connections, 10000);
	T_EQ_INT(cfg.max_connections_per_ip, 100);
	T_EQ_INT(cfg.handshake_timeout_ms, 10000);
	T_EQ_INT(cfg.idle_timeout_ms, 300000);
	T_ASSERT(strstr(cfg.instance, ":4650") != NULL);
}

static void
t_types(void)
{
	T_ASSERT(load("[server]\nlisten = 127.0.0.1:25\nlisten = [::1]:2525\nworkers = 4\n"
	    "hostname = mx.b.test\n" BASE "[limits]\nmax_message_size = 10M\nidle_timeout = 5m\n"
	    "handshake_timeout = 1500ms\nmax_trace_bytes = 2K\n[dns]\ncache = redis\ntimeout = 2s\n"
	    "[redis]\nurl = redis://u:p@127.0.0.1:6380/2\n[headers]\ntrace_allow = Received,X-Spam-*, ARC-Seal\n"
	    "[tls]\n") == 0);
	T_EQ_INT(cfg.n_listen, 2);
	T_EQ_INT(cfg.listen[1].v6, 1);
	T_EQ_STR(cfg.listen[1].host, "::1");
	T_EQ_INT(cfg.listen[1].port, 2525);
	T_EQ_INT(cfg.workers, 4);
	T_EQ_INT(cfg.max_message_size, 10 << 20);
	T_EQ_INT(cfg.idle_timeout_ms, 300000);
	T_EQ_INT(cfg.handshake_timeout_ms, 1500);
	T_EQ_INT(cfg.max_trace_bytes, 2048);
	T_EQ_INT(cfg.dns_cache_redis, 1);
	T_EQ_INT(cfg.dns_timeout_ms, 2000);
	T_EQ_STR(cfg.redis.host, "127.0.0.1");
	T_EQ_INT(cfg.redis.port, 6380);
	T_EQ_STR(cfg.redis.user, "u");
	T_EQ_STR(cfg.redis.password, "p");
	T_EQ_INT(cfg.redis.db, 2);
	T_EQ_INT(cfg.n_trace_allow, 3);
	T_EQ_STR(cfg.trace_allow[1], "X-Spam-*");
	T_EQ_STR(cfg.instance, "mx.b.test:25");
	T_EQ_STR(cfg.authserv_id, "b.test");	/* the parent: the same on mx1, mx2 */
	T_EQ_INT(cfg.authserv_id_derived, 1);
	T_EQ_INT(cfg.n_authserv_also, 0);
	T_ASSERT(load("[server]\nhostname = mx1.b.test\n" BASE "[headers]\nauthserv_id = b.test\n"
	    "authserv_id_also = mx1.b.test, mx2.b.test,old.b.test\n") == 0);
	T_EQ_STR(cfg.authserv_id, "b.test");
	T_EQ_INT(cfg.authserv_id_derived, 0);
	T_EQ_INT(cfg.n_authserv_also, 3);
	T_EQ_STR(cfg.authserv_also[1], "mx2.b.test");
	T_EQ_STR(cfg.authserv_also[2], "old.b.test");
	T_ASSERT(load("[server]\nhostname = b.test\n" BASE) == 0);
	T_EQ_STR(cfg.authserv_id, "b.test");	/* two labels: the name itself */
}

/* Each bad file names the line of its fault. */
static const struct {
	const char *label, *text, *want;
} bad[] = {
	{ "typo_key", BASE "[limits]\nmax_mesage_size = 1M\n", "test.conf:5: unknown key 'max_mesage_size' in [limits]" },
	{ "unknown_section", BASE "[limit]\n", "test.conf:4: unknown section [limit]" },
	{ "out_of_range", BASE "[limits]\nmax_recipients = 0\n", "test.conf:5: max_recipients: '0' is out of range" },
	{ "bad_size", BASE "[limits]\nmax_message_size = 10Q\n", "test.conf:5: max_message_size: '10Q' is not a size" },
	{ "bad_duration", BASE "[limits]\nidle_timeout = 5 minutes\n", "test.conf:5: idle_timeout: '5 minutes' is not a duration" },
	{ "bad_listen", BASE "[server]\nlisten = mx.example:25\n", "test.conf:5: listen:" },
	{ "bad_port", BASE "[server]\nlisten = 127.0.0.1:70000\n", "test.conf:5: listen:" },
	{ "bad_v6", BASE "[server]\nlisten = [::g]:25\n", "test.conf:5: listen:" },
	{ "bad_workers", BASE "[server]\nworkers = 0\n", "test.conf:5: workers:" },
	{ "bad_tls", BASE "[tls]\n", NULL },
	{ "tls_version", "[tls]\ncertificate = /c\nkey = /k\nmin_version = 1.1\n", "test.conf:4: min_version: '1.1' must be 1.2 or 1.3" },
	{ "duplicate", BASE "[dns]\ntimeout = 1s\ntimeout = 2s\n", "test.conf:6: timeout given twice in [dns]" },
	{ "no_section", "certificate = /c\n", "test.conf:1: key 'certificate' outside any [section]" },
	{ "no_equals", BASE "[dns]\ntimeout\n", "test.conf:5: expected key = value" },
	{ "no_cert", "[tls]\nkey = /k\n", "test.conf: [tls] certificate is required" },
	{ "redis_cache_no_url", BASE "[dns]\ncache = redis\n", "test.conf:5: [dns] cache = redis needs [redis] url" },
	{ "bad_redis_url", BASE "[redis]\nurl = http://x\n", "test.conf:5: url: 'http://x': must start with redis:// or unix:" },
	{ "bad_redis_port", BASE "[redis]\nurl = redis://h:0\n", "test.conf:5: url: 'redis://h:0': bad port" },
	{ "bad_trace", BASE "[headers]\ntrace_allow = X-*-Y\n", "test.conf:5: trace_allow:" },
	{ "bad_trace_colon", BASE "[headers]\ntrace_allow = Received:\n", "test.conf:5: trace_allow:" },
	{ "no_dnssec", BASE "[dns]\ntrust_anchor_file =\n", "test.conf:5: [dns] needs trust_anchor_file or unbound_conf" },
	{ "bad_lmtp", BASE "[lmtp]\ntarget = dovecot\n", "test.conf:5: [lmtp] target: 'dovecot' must be unix:/path or host:port" },
	{ "empty_hostname", BASE "[server]\nhostname =\n", "test.conf:5: hostname: must not be empty" },
	{ "number_garbage", BASE "[lmtp]\nconnections = 8x\n", "test.conf:5: connections: '8x' is not a number" },
	{ "size_suffix_twice", BASE "[limits]\nmax_message_size = 50Mbb\n", "test.conf:5: max_message_size: '50Mbb' is not a size" },
	{ "size_suffix_i", BASE "[limits]\nmax_message_size = 50Mi\n", "test.conf:5: max_message_size: '50Mi' is not a size" },
	{ "listen_twice", BASE "[server]\nlisten = 127.0.0.1:25\nlisten = 127.0.0.1:25\n", "test.conf:6: listen: 127.0.0.1:25 given twice (first on line 5)" },
	{ "listen_v6_twice", BASE "[server]\nlisten = [::1]:25\nlisten = [::1]:25\n", "test.conf:6: listen: [::1]:25 given twice" },
	{ "listen_wildcard", BASE "[server]\nlisten = 0.0.0.0:25\nlisten = 127.0.0.1:25\n", "test.conf:6: listen: 127.0.0.1:25 overlaps 0.0.0.0:25" },
};

static void
bad_row(size_t i)
{
	int r = load(bad[i].text);
	const char *e = err + strlen(dir) + 1;	/* from the file name on */

	if (bad[i].want == NULL) {	/* a repeated section header is fine */
		T_EQ_INT(r, 0);
		return;
	}
	T_EQ_INT(r, -1);
	if (strncmp(err, dir, strlen(dir)) != 0 || strncmp(e, bad[i].want, strlen(bad[i].want)) != 0)
		T_FAIL("error \"%s\", want prefix \"%s/%s\"", err, dir, bad[i].want);
}

static void
t_comments_and_space(void)
{
	T_ASSERT(load("# comment\n; comment\n\n  [tls]  \n certificate=/c.pem   # trailing\nkey = /k#not-a-comment\n") == 0);
	T_EQ_STR(cfg.certificate, "/c.pem");
	T_EQ_STR(cfg.key, "/k#not-a-comment");
}

static void
t_long_line_not_truncated(void)
{
	char text[3000];
	char path[1000];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text), "[tls]\ncertificate = %s\nkey = /k\n", path);
	T_ASSERT(load(text) == 0);
	T_EQ_STR(cfg.certificate, path);
}

static void
t_example_file_loads(void)
{
	char e[1024];
	struct rcv_config *c = malloc(sizeof(*c));
	int r;

	T_ASSERT(c != NULL);
	r = rcv_config_load("config/smtpsec-gateway.conf", c, 0, e, sizeof(e));
	free(c);
	if (r != 0)
		T_FAIL("example config: %s", e);
}

/* The example file lists every key of the table in its section, set or
 * as a "#key =" comment (README: "lists every key with its default"). */
static int
example_has_key(const char *text, const char *section, const char *key)
{
	char hdr[80];
	const char *sec, *end, *p;
	size_t kl = strlen(key);

	snprintf(hdr, sizeof(hdr), "\n%s\n", section);
	if ((sec = strstr(text, hdr)) == NULL)
		return 0;
	sec += strlen(hdr);
	end = strstr(sec, "\n[");
	if (end == NULL)
		end = sec + strlen(sec);
	for (p = sec; p < end; p = strchr(p, '\n') + 1) {
		const char *q = *p == '#' ? p + 1 : p;

		if (strncmp(q, key, kl) == 0 && strncmp(q + kl, " =", 2) == 0)
			return 1;
		if (strchr(p, '\n') == NULL)
			break;
	}
	return 0;
}

static void
t_example_file_lists_every_key(void)
{
	struct rcv_config *c = malloc(sizeof(*c));
	char *dump = NULL, *text, line[512], section[80] = "";
	size_t dlen = 0, n;
	FILE *f, *m;

	T_ASSERT(c != NULL);
	rcv_config_defaults(c);
	m = open_memstream(&dump, &dlen);
	T_ASSERT(m != NULL);
	rcv_config_dump(c, m, 0);
	fclose(m);
	free(c);
	f = fopen("config/smtpsec-gateway.conf", "r");
	T_ASSERT(f != NULL);
	text = calloc(1, 1 << 20);
	T_ASSERT(text != NULL);
	text[0] = '\n';
	n = fread(text + 1, 1, (1 << 20) - 2, f);
	fclose(f);
	text[n + 1] = '\0';
	m = fmemopen(dump, dlen, "r");
	T_ASSERT(m != NULL);
	while (fgets(line, sizeof(line), m) != NULL) {
		char *eq;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '[') {
			snprintf(section, sizeof(section), "%s", line);
			continue;
		}
		if ((eq = strstr(line, " =")) == NULL)
			continue;
		*eq = '\0';
		if (!example_has_key(text, section, line)) {
			T_FAIL("config/smtpsec-gateway.conf lacks %s %s", section, line);
			break;
		}
	}
	fclose(m);
	free(dump);
	free(text);
}

static void
t_size_duration_parsers(void)
{
	uint64_t v;

	T_ASSERT(rcv_config_parse_size("64K", &v) == 0 && v == 65536);
	T_ASSERT(rcv_config_parse_size("1G", &v) == 0 && v == 1ULL << 30);
	T_ASSERT(rcv_config_parse_size("5MiB", &v) == 0 && v == 5ULL << 20);
	T_ASSERT(rcv_config_parse_size("5MB", &v) == 0 && v == 5ULL << 20);
	T_ASSERT(rcv_config_parse_size("5m", &v) == 0 && v == 5ULL << 20);
	T_ASSERT(rcv_config_parse_size("5Mbb", &v) == -1);
	T_ASSERT(rcv_config_parse_size("5MiBB", &v) == -1);
	T_ASSERT(rcv_config_parse_size("5Mi", &v) == -1);
	T_ASSERT(rcv_config_parse_size("5BM", &v) == -1);
	T_ASSERT(rcv_config_parse_size("99999999999999999999", &v) == -1);
	T_ASSERT(rcv_config_parse_size("18014398509481984K", &v) == -1);	/* overflow */
	T_ASSERT(rcv_config_parse_size("-1", &v) == -1);
	T_ASSERT(rcv_config_parse_duration("250ms", &v) == 0 && v == 250);
	T_ASSERT(rcv_config_parse_duration("2h", &v) == 0 && v == 7200000);
	T_ASSERT(rcv_config_parse_duration("30", &v) == 0 && v == 30000);
	T_ASSERT(rcv_config_parse_duration("1w", &v) == -1);
}

static void
t_redis_urls(void)
{
	struct vfy_redis_url u;
	const char *why;

	T_ASSERT(rcv_config_parse_redis_url("unix:/run/redis.sock", &u, &why) == 0);
	T_EQ_STR(u.path, "/run/redis.sock");
	T_ASSERT(rcv_config_parse_redis_url("redis://:pw@[::1]:7000", &u, &why) == 0);
	T_EQ_STR(u.host, "::1");
	T_EQ_INT(u.port, 7000);
	T_EQ_STR(u.password, "pw");
	T_EQ_STR(u.user, "");
	T_ASSERT(rcv_config_parse_redis_url("redis://localhost", &u, &why) == 0);
	T_EQ_INT(u.port, 6379);
	T_ASSERT(rcv_config_parse_redis_url("unix:relative", &u, &why) == -1);
	T_ASSERT(rcv_config_parse_redis_url("redis://h:6379/x", &u, &why) == -1);
	T_ASSERT(rcv_config_parse_redis_url("redis://:@h", &u, &why) == -1);
}

/* vfy_redis_url_options: what the DNS cache, the stats writer and
 * smtpsec-stats connect to, from the same parsed URL */
static void
t_redis_url_options(void)
{
	struct vfy_redis_options o;
	struct vfy_redis_url u;
	const char *why;

	T_ASSERT(rcv_config_parse_redis_url("unix:/run/redis.sock", &u, &why) == 0);
	memset(&o, 0x55, sizeof(o));
	vfy_redis_url_options(&u, &o);
	T_EQ_STR(o.path, "/run/redis.sock");
	T_ASSERT(o.host == NULL && o.user == NULL && o.password == NULL);
	T_ASSERT(o.db == 0 && o.handshake_ms == 0 && o.backoff_min == 0 && o.backoff_max == 0);
	T_ASSERT(vfy_redis_configured(&o));
	T_ASSERT(rcv_config_parse_redis_url("redis://:pw@[::1]:7000", &u, &why) == 0);
	vfy_redis_url_options(&u, &o);
	T_EQ_STR(o.host, "::1");
	T_EQ_INT(o.port, 7000);
	T_ASSERT(o.path == NULL && o.user == NULL);
	T_EQ_STR(o.password, "pw");
	T_ASSERT(rcv_config_parse_redis_url("redis://u:p@127.0.0.1:6380/2", &u, &why) == 0);
	vfy_redis_url_options(&u, &o);
	T_EQ_STR(o.host, "127.0.0.1");
	T_EQ_STR(o.user, "u");
	T_EQ_STR(o.password, "p");
	T_EQ_INT(o.db, 2);
	memset(&u, 0, sizeof(u));
	vfy_redis_url_options(&u, &o);
	T_ASSERT(!vfy_redis_configured(&o));
}

/* Every problem of a file is reported, each at its line, and a refused
 * value marks its key. */
struct msgs {
	char text[8][256];
	unsigned n;
};

static void
collect(void *arg, const char *msg)
{
	struct msgs *m = arg;

	if (m->n < 8)
		snprintf(m->text[m->n], sizeof(m->text[0]), "%s", msg);
	m->n++;
}

static void
t_all_problems(void)
{
	char path[] = "/tmp/test_rcv_config.XXXXXX", where[256];
	static const char text[] = "[server]\nlisten = 127.0.0.1:25\nworkers = many\n"
	    "[limit]\nmax_recipients = 5\n[tls]\ncertificate = /c\nkey = /k\n"
	    "[limits]\nmax_message_size = 50Mbb\nidle_timeout = 1w\n[server]\nlisten = 127.0.0.1:25\n";
	struct msgs m;
	int fd = mkstemp(path);
	unsigned n;

	T_ASSERT(fd >= 0);
	T_ASSERT(write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1));
	close(fd);
	memset(&m, 0, sizeof(m));
	n = rcv_config_load_all(path, &cfg, collect, &m);
	T_EQ_INT(n, 5);
	T_EQ_INT(m.n, 5);
	T_ASSERT(strstr(m.text[0], ":3: workers:") != NULL);
	T_ASSERT(strstr(m.text[1], ":4: unknown section [limit]") != NULL);	/* its key: not again */
	T_ASSERT(strstr(m.text[2], ":10: max_message_size:") != NULL);
	T_ASSERT(strstr(m.text[3], ":11: idle_timeout:") != NULL);
	T_ASSERT(strstr(m.text[4], ":13: listen: 127.0.0.1:25 given twice (first on line 2)") != NULL);
	T_ASSERT(strncmp(m.text[0], path, strlen(path)) == 0);
	T_EQ_INT(rcv_config_where(&cfg, "tls", "key", where, sizeof(where)), 8);
	T_ASSERT(strstr(where, ":8") != NULL);
	T_EQ_INT(rcv_config_where(&cfg, "lmtp", "target", where, sizeof(where)), 0);
	T_EQ_STR(where, path);
	T_EQ_INT(rcv_config_where(&cfg, "lmtp", "nosuch", where, sizeof(where)), -1);
	unlink(path);
}

static char *
dump_of(const struct rcv_config *c, int flags)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (m == NULL)
		abort();
	rcv_config_dump(c, m, flags);
	fclose(m);
	return buf;
}

/* -n prints what the file changes, in the file's syntax: read back, it
 * is the same configuration and prints the same. */
static void
t_dump_changed_round_trip(void)
{
	struct rcv_config *c2 = malloc(sizeof(*c2));
	char *d1, *d2;

	T_ASSERT(c2 != NULL);
	T_ASSERT(load("[server]\nlisten = 127.0.0.1:2525\nlisten = [::1]:2525\nworkers = 3\n" BASE
	    "min_version = 1.3\n[limits]\nmax_message_size = 10M\nidle_timeout = 90s\n"
	    "max_recipients = 1000\n[redis]\nurl = redis://u:secret@127.0.0.1:6380/2\n"
	    "[headers]\ntrace_allow = Received\n[lmtp]\nspool_max_age = 7d\n") == 0);
	d1 = dump_of(&cfg, RCV_CONFIG_DUMP_CHANGED | RCV_CONFIG_DUMP_SECRETS);
	T_ASSERT(strstr(d1, "[server]\nlisten = 127.0.0.1:2525\nlisten = [::1]:2525\nworkers = 3\n") != NULL);
	T_ASSERT(strstr(d1, "max_message_size = 10M\n") != NULL);
	T_ASSERT(strstr(d1, "idle_timeout = 90s\n") != NULL);
	T_ASSERT(strstr(d1, "spool_max_age = 7d\n") != NULL);
	T_ASSERT(strstr(d1, "url = redis://u:secret@127.0.0.1:6380/2\n") != NULL);
	/* set to the default: not printed */
	T_ASSERT(strstr(d1, "min_version") == NULL);
	T_ASSERT(strstr(d1, "max_recipients") == NULL);
	T_ASSERT(strstr(d1, "[dns]") == NULL);
	T_ASSERT(load_as("dump.conf", d1, c2) == 0);
	d2 = dump_of(c2, RCV_CONFIG_DUMP_CHANGED | RCV_CONFIG_DUMP_SECRETS);
	T_EQ_STR(d2, d1);
	free(d2);
	free(d1);
	/* without -P the password is not shown */
	d1 = dump_of(&cfg, RCV_CONFIG_DUMP_CHANGED);
	T_ASSERT(strstr(d1, "secret") == NULL);
	T_ASSERT(strstr(d1, "url = redis://u:*****@127.0.0.1:6380/2\n") != NULL);
	free(d1);
	free(c2);
}

/* -d prints every key of the table, once, in its section: the table as
 * the man page generated from it lists it (".SS [section]", then for each
 * key "\fBname\fR = ..." and its help text on the next line). */
static void
t_dump_all_every_key(void)
{
	char *d, *man = NULL, *line, *save = NULL, *cur = NULL, want[160];
	size_t mlen = 0, n = 0;
	int key_above = 0;
	FILE *m = open_memstream(&man, &mlen);

	T_ASSERT(m != NULL);
	rcv_config_man(m, "0");
	fclose(m);
	T_ASSERT(load(BASE "[dns]\ntimeout = 2s\n") == 0);
	d = dump_of(&cfg, 0);
	for (line = strtok_r(man, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (key_above && (line[0] == '.' || line[0] == ';'))
			T_FAIL("the key above %s has no help", line);
		key_above = 0;
		if (strncmp(line, ".SS [", 5) == 0) {
			cur = line + 4;
			snprintf(want, sizeof(want), "%s\n", cur);
			if (strstr(d, want) == NULL)
				T_FAIL("no %s in -d", cur);
		} else if (strncmp(line, "\\fB", 3) == 0 && cur != NULL) {
			snprintf(want, sizeof(want), "\n%.*s =", (int)strcspn(line + 3, "\\"), line + 3);
			if (strstr(d, want) == NULL)
				T_FAIL("key %s%s not in -d", cur, want);
			key_above = 1;
			n++;
		}
	}
	T_ASSERT(n >= 40);
	T_ASSERT(strstr(d, "timeout = 2s  # default: 5s\n") != NULL);
	T_ASSERT(strstr(d, "cache_max_ttl = 1h\n") != NULL);
	free(d);
	free(man);
}

int
main(void)
{
	size_t i;
	char path[64];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(t_defaults);
	T_RUN(t_types);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_CASE("bad", bad[i].label, bad_row(i));
	T_RUN(t_comments_and_space);
	T_RUN(t_long_line_not_truncated);
	T_RUN(t_example_file_loads);
	T_RUN(t_example_file_lists_every_key);
	T_RUN(t_size_duration_parsers);
	T_RUN(t_redis_urls);
	T_RUN(t_redis_url_options);
	T_RUN(t_all_problems);
	T_RUN(t_dump_changed_round_trip);
	T_RUN(t_dump_all_every_key);
	snprintf(path, sizeof(path), "%s/test.conf", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dump.conf", dir);
	unlink(path);
	rmdir(dir);
	return T_END();
}
