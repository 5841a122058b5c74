/*
 * cpu_check: exercise the project's wolfSSL (deps/wolfssl) where the
 * assembly matters, for t_wolfssl.sh to run under qemu-user with an old
 * CPU model.  Built by the test with plain cc (no sanitizer: ASan does not
 * run under qemu-user) against the static library.
 *
 *   cpu_check CERT-CHAIN.pem KEY.pem CA.pem SERVERNAME
 *
 * TLS 1.3 handshakes over a socketpair in one process (client and server
 * stepped in turn), for AES-128-GCM and ChaCha20-Poly1305 with P-256 and
 * X25519 key shares, each followed by a 16 KiB record both ways; prints one
 * line per combination and exits 0 when all succeed.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
step(WOLFSSL *s, int server)
{
	int r = server ? wolfSSL_accept(s) : wolfSSL_connect(s);

	if (r == WOLFSSL_SUCCESS)
		return 1;
	r = wolfSSL_get_error(s, r);
	return r == WOLFSSL_ERROR_WANT_READ || r == WOLFSSL_ERROR_WANT_WRITE ? 0 : -1;
}

static int
xfer(WOLFSSL *from, WOLFSSL *to, const unsigned char *buf, int n)
{
	unsigned char got[16384];
	int w = 0, r = 0;

	while (w < n || r < n) {
		if (w < n) {
			int k = wolfSSL_write(from, buf + w, n - w);

			if (k > 0)
				w += k;
			else if (wolfSSL_get_error(from, k) != WOLFSSL_ERROR_WANT_WRITE)
				return -1;
		}
		if (r < n) {
			int k = wolfSSL_read(to, got + r, n - r);

			if (k > 0)
				r += k;
			else if (wolfSSL_get_error(to, k) != WOLFSSL_ERROR_WANT_READ)
				return -1;
		}
	}
	return memcmp(buf, got, (size_t)n) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const char *suites[] = { "TLS13-AES128-GCM-SHA256", "TLS13-CHACHA20-POLY1305-SHA256" };
	static const struct { const char *name; word16 id; } groups[] = {
		{ "p256", WOLFSSL_ECC_SECP256R1 }, { "x25519", WOLFSSL_ECC_X25519 },
	};
	unsigned char data[16384];
	int fail = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: cpu_check CHAIN KEY CA SERVERNAME\n");
		return 64;
	}
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 31 + 7);
	wolfSSL_Init();
	for (size_t si = 0; si < 2; si++) {
		for (size_t gi = 0; gi < 2; gi++) {
			WOLFSSL_CTX *sc = wolfSSL_CTX_new(wolfTLSv1_3_server_method());
			WOLFSSL_CTX *cc = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
			WOLFSSL *s = NULL, *c = NULL;
			int sv[2], ds = 0, dc = 0, ok = 0, n;

			if (sc == NULL || cc == NULL ||
			    wolfSSL_CTX_use_certificate_chain_file(sc, argv[1]) != WOLFSSL_SUCCESS ||
			    wolfSSL_CTX_use_PrivateKey_file(sc, argv[2], WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS ||
			    wolfSSL_CTX_load_verify_locations(cc, argv[3], NULL) != WOLFSSL_SUCCESS ||
			    wolfSSL_CTX_set_cipher_list(cc, suites[si]) != WOLFSSL_SUCCESS ||
			    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
				goto done;
			fcntl(sv[0], F_SETFL, O_NONBLOCK);
			fcntl(sv[1], F_SETFL, O_NONBLOCK);
			s = wolfSSL_new(sc);
			c = wolfSSL_new(cc);
			if (s == NULL || c == NULL || wolfSSL_UseKeyShare(c, groups[gi].id) != WOLFSSL_SUCCESS)
				goto done;
			wolfSSL_set_fd(s, sv[0]);
			wolfSSL_set_fd(c, sv[1]);
			wolfSSL_check_domain_name(c, argv[4]);
			for (n = 0; n < 1000 && (!ds || !dc); n++) {
				int a = ds ? 1 : step(s, 1), b = dc ? 1 : step(c, 0);

				if (a < 0 || b < 0)
					goto done;
				ds = a;
				dc = b;
			}
			ok = ds && dc && xfer(c, s, data, (int)sizeof(data)) == 0 &&
			    xfer(s, c, data, (int)sizeof(data)) == 0 &&
			    strcmp(wolfSSL_get_cipher_name(c), suites[si]) == 0;
done:
			printf("%s %s %s\n", suites[si], groups[gi].name, ok ? "ok" : "FAILED");
			fail |= !ok;
			wolfSSL_free(s);
			wolfSSL_free(c);
			wolfSSL_CTX_free(sc);
			wolfSSL_CTX_free(cc);
		}
	}
	wolfSSL_Cleanup();
	return fail;
}
