/* tests/formats/st.c — writing safetensors files for tests (fmt.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"

void st_write_raw(const char *path, const char *header, const void *data, size_t n)
{
	struct fb b = { 0 };
	fb_u64(&b, strlen(header));
	fb_put(&b, header, strlen(header));
	fb_put(&b, data, n);
	write_bytes(path, b.p, b.n);
	fb_free(&b);
}

void st_write(const char *path, const struct st_entry *e, int n, const char *meta)
{
	struct fb h = { 0 }, d = { 0 };
	char item[512];
	fb_put(&h, "{", 1);
	if (meta) {
		fb_put(&h, "\"__metadata__\":", 15);
		fb_put(&h, meta, strlen(meta));
	}
	for (int i = 0; i < n; i++) {
		int k = snprintf(item, sizeof item, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i || meta ? "," : "",
				 e[i].name, e[i].dtype);
		for (int j = 0; j < e[i].nd; j++)
			k += snprintf(item + k, sizeof item - (size_t)k, "%s%lld", j ? "," : "",
				      (long long)e[i].shape[j]);
		k += snprintf(item + k, sizeof item - (size_t)k, "],\"data_offsets\":[%zu,%zu]}", d.n,
			      d.n + e[i].nbytes);
		fb_put(&h, item, (size_t)k);
		fb_put(&d, e[i].data, e[i].nbytes);
	}
	fb_put(&h, "}", 1);
	while (h.n % 8)
		fb_put(&h, " ", 1);
	fb_put(&h, "", 1);
	h.n--;
	char *text = strndup((const char *)h.p, h.n);
	st_write_raw(path, text, d.p, d.n);
	free(text);
	fb_free(&h);
	fb_free(&d);
}

long st_key_offset(const char *header, const char *name)
{
	char key[256];
	snprintf(key, sizeof key, "\"%s\"", name);
	const char *p = strstr(header, key);
	ck_assert_msg(p != NULL, "no key %s", name);
	return 8 + (long)(p - header);
}
