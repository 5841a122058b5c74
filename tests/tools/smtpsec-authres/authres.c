/*
 * smtpsec-authres: the gateway's own verdict on Authentication-Results
 * field values, for the differential test against python3-authres
 * (tests/integration/t_authres_oracle.sh).
 *
 *   smtpsec-authres AUTHSERV-ID < values
 *
 * Each input line is one field value (what follows "Authentication-Results:",
 * folds included) as hex; each output line is 1 when lmtp_authres_claims()
 * says the value claims AUTHSERV-ID (it would be renamed), else 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmtp/lmtp_int.h"
#include "tests/lib/tutil.h"

int
main(int argc, char **argv)
{
	char line[65536];

	if (argc != 2) {
		fprintf(stderr, "usage: smtpsec-authres AUTHSERV-ID < hex-values\n");
		return 64;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		size_t len = 0;
		uint8_t *v;

		line[strcspn(line, "\r\n")] = '\0';
		v = tutil_hex(line, &len);
		if (v == NULL && line[0] != '\0') {
			fprintf(stderr, "smtpsec-authres: bad hex line\n");
			return 2;
		}
		printf("%d\n", lmtp_authres_claims(v ? v : (const uint8_t *)"", len, argv[1]));
		free(v);
	}
	return 0;
}
