/* fuzz_sct: the leaf certificate as the CT step reads it: the SCT list
 * extension, the precertificate TBS rebuild and every SCT's fields.  No log
 * list is loaded, so signatures are never checked; parsing is the target. */
#include <stdint.h>
#include <stdlib.h>

#include "verify/vfy_ct.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t spki[] = { 0x30, 0x03, 0x01, 0x01, 0x00 };
	struct vfy_ct_report rep;
	int n = vfy_ct_check_leaf(NULL, data, size, spki, sizeof(spki), 2000000000, &rep);

	if (n > 0 || rep.n_scts > VFY_CT_MAX_SCTS)
		abort();	/* nothing can count without a log list */
	return 0;
}
