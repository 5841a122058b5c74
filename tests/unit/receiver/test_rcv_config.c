/* Unit tests for receiver/rcv_config.c: types, defaults, errors with lines. */
#include "receiver/rcv_config.h"
#include "tests/lib/tutil.h"
#include "tests/unit/t.h"

#define BASE "[tls]\ncertificate = /c.pem\nkey = /k.pem\n"

static struct rcv_config cfg;
static char err[1024];

static int
load(const char *text)
{
	err[0] = '\0';
	return rcv_config_load_string("test.conf", text, &cfg, err, sizeof(err));
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
	{ "redis_cache_no_url", BASE "[dns]\ncache = redis\n", "test.conf: [dns] cache = redis needs [redis] url" },
	{ "bad_redis_url", BASE "[redis]\nurl = http://x\n", "test.conf:5: url: 'http://x': must start with redis:// or unix:" },
	{ "bad_redis_port", BASE "[redis]\nurl = redis://h:0\n", "test.conf:5: url: 'redis://h:0': bad port" },
	{ "bad_trace", BASE "[headers]\ntrace_allow = X-*-Y\n", "test.conf:5: trace_allow:" },
	{ "bad_trace_colon", BASE "[headers]\ntrace_allow = Received:\n", "test.conf:5: trace_allow:" },
	{ "no_dnssec", BASE "[dns]\ntrust_anchor_file =\n", "test.conf: [dns] needs trust_anchor_file or unbound_conf" },
	{ "bad_lmtp", BASE "[lmtp]\ntarget = dovecot\n", "test.conf: [lmtp] target: 'dovecot' must be unix:/path or host:port" },
	{ "empty_hostname", BASE "[server]\nhostname =\n", "test.conf:5: hostname: must not be empty" },
	{ "number_garbage", BASE "[lmtp]\nconnections = 8x\n", "test.conf:5: connections: '8x' is not a number" },
};

static void
bad_row(size_t i)
{
	int r = load(bad[i].text);

	if (bad[i].want == NULL) {	/* a repeated section header is fine */
		T_EQ_INT(r, 0);
		return;
	}
	T_EQ_INT(r, -1);
	if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
		T_FAIL("error \"%s\", want prefix \"%s\"", err, bad[i].want);
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
	r = rcv_config_load("config/smtpsec-gateway.conf", c, e, sizeof(e));
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
	rcv_config_dump(c, m);
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
	struct rcv_redis_url u;
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

int
main(void)
{
	size_t i;

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
	return T_END();
}
