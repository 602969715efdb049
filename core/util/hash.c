/* core/util/hash.c — sha256 through libcrypto, FNV-1a for short ids. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"

struct pb_sha256 { EVP_MD_CTX *ctx; };

struct pb_sha256 *pb_sha256_new(void)
{
	struct pb_sha256 *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
		return NULL;
	}
	return h;
}

void pb_sha256_update(struct pb_sha256 *h, const void *p, size_t n)
{
	if (h && n)
		EVP_DigestUpdate(h->ctx, p, n);
}

void pb_sha256_final(struct pb_sha256 *h, char hex[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	hex[0] = '\0';
	if (!h)
		return;
	if (EVP_DigestFinal_ex(h->ctx, md, &n) == 1)
		for (unsigned i = 0; i < n && i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void pb_sha256_buf(const void *p, size_t n, char hex[65])
{
	struct pb_sha256 *h = pb_sha256_new();
	pb_sha256_update(h, p, n);
	pb_sha256_final(h, hex);
}

int pb_sha256_file(const char *path, char hex[65])
{
	char buf[1 << 16];
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct pb_sha256 *h = pb_sha256_new();
	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	while ((r = read(fd, buf, sizeof buf)) > 0)
		pb_sha256_update(h, buf, (size_t)r);
	int err = r < 0 ? -errno : 0;
	close(fd);
	pb_sha256_final(h, hex);
	return err;
}

uint64_t pb_fnv1a64(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
