/*
 * cli: what every program's command line shares (the gateway, smtpsec-verify,
 * -stats, -spool and smtpsec-send): sysexits(3) codes, strict numbers, the
 * usage-error line, --version and the one version they all print.
 * Base layer: includes nothing of the project.
 *
 *   0  EX_OK           done
 *   64 EX_USAGE        bad option, missing or malformed argument
 *   66 EX_NOINPUT      an input file named on the command line cannot be read
 *   69 EX_UNAVAILABLE  a service it needs is down (Redis, a listener address)
 *   75 EX_TEMPFAIL     temporary failure, try again later
 *   78 EX_CONFIG       the configuration (file or what it names) is wrong
 */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>
#include <sysexits.h>

/* The one version: --version, the gateway's start line, the man page,
 * CHANGELOG.md's latest entry (t_release). */
#ifndef CLI_VERSION
#define CLI_VERSION "0.1.0"
#endif

/* A decimal number, digits only (no sign, space, suffix or hex), within
 * min..max.  0, or -1. */
int cli_uint(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *v_r);

/* A decimal number with an optional fraction ("1.5"), within min..max.
 * 0, or -1. */
int cli_double(const char *s, double min, double max, double *v_r);

/* "PROG: MESSAGE" and "Try 'PROG --help'." on stderr; returns EX_USAGE. */
int cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What went wrong when getopt_long (opterr = 0, optstring starting with
 * ':') returned ch, ':' or '?': "option --x needs an argument", "unknown
 * option -x" or "unknown option --x", written into buf; returns buf. */
const char *cli_bad_option(int ch, char *const argv[], char *buf, size_t len);

/* "PROG VERSION" (CLI_VERSION) on stdout; returns EX_OK. */
int cli_version(const char *prog);

#endif
