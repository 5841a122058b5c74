/* fuzz_loglist: the CT log list loader (Chrome log_list.json v3), which reads
 * a file an operator downloads from the network: states, timestamps,
 * temporal intervals, base64 ids and keys. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/vfy_ct.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vfy_ct_logs *logs = NULL;
	char err[256];

	if (vfy_ct_logs_parse("fuzz", (const char *)data, size, &logs, err, sizeof(err)) < 0) {
		if (logs != NULL || err[0] == '\0')
			abort();	/* failure must say why and hand back nothing */
		return 0;
	}
	(void)vfy_ct_logs_count(logs);
	vfy_ct_logs_free(&logs);
	return 0;
}
