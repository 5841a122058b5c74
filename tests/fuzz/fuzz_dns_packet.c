/* fuzz_dns_packet: the DNS response and rdata parsers of verify/vfy_dns.c
 * (negative TTL from the SOA, wire names). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify/vfy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[256];
	int64_t t = vfy_dns_packet_negative_ttl(data, size);
	int n;

	if (t > 0x7fffffff)
		abort();
	n = vfy_dns_name_from_wire(data, size, name, sizeof(name));
	if (n > (int)size || (n >= 0 && strlen(name) > 253))
		abort();
	return 0;
}
