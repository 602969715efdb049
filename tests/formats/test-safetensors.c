/* tests/formats/test-safetensors.c — malformed safetensors files, read
 * through a Hugging Face folder: each must fail with its own message at
 * the offset of the header entry (or byte) that is wrong. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hfx.h"

static char data[4096];

/* The header padded with spaces to a multiple of 8 (as the reference
 * writer does), so data starts aligned. */
static const char *pad8(const char *h)
{
	static char buf[2048];
	snprintf(buf, sizeof buf, "%s", h);
	while ((8 + strlen(buf)) % 8)
		strcat(buf, " ");
	return buf;
}

/* Write header + n data bytes as model.safetensors and expect an error. */
static void expect(const char *header, size_t n, long offset, const char *needle)
{
	const char *dir = hfx_llama_dir("st", 1, NULL);
	st_write_raw(hfx_path(dir, "model.safetensors"), header, data, n);
	must_fail(dir, NULL, offset, needle);
}

#define NORM "\"model.norm.weight\""

static long at_norm(const char *h)
{
	return st_key_offset(h, "model.norm.weight");
}

START_TEST(bad_container)
{
	const char *dir = hfx_llama_dir("st", 1, NULL);
	write_bytes(hfx_path(dir, "model.safetensors"), "\x05\0\0\0\0", 5);
	must_fail(dir, NULL, 0, "truncated: 5 bytes");
	uint64_t big = 1ull << 40;
	char raw[16];
	memcpy(raw, &big, 8);
	memcpy(raw + 8, "{}      ", 8);
	write_bytes(hfx_path(dir, "model.safetensors"), raw, 16);
	must_fail(dir, NULL, 0, "header length 1099511627776 exceeds");
	expect(pad8("{\"a\": "), 0, 8 + 8, "bad JSON header");   /* where the parser stopped */
	expect(pad8("[1, 2]"), 0, 8, "not an object");
	expect(pad8("{\"a\": 1, \"a\": 2}"), 0, -1, "bad JSON header: duplicate object key");
}
END_TEST

START_TEST(bad_entries)
{
	const char *h;
	h = pad8("{" NORM ": 3}");
	expect(h, 0, at_norm(h), "expected an object with dtype, shape and data_offsets");
	h = pad8("{" NORM ": {\"dtype\": \"F32\", \"shape\": [32]}}");
	expect(h, 128, at_norm(h), "missing or mistyped");
	h = pad8("{" NORM ": {\"dtype\": \"I64\", \"shape\": [32], \"data_offsets\": [0, 256]}}");
	expect(h, 256, at_norm(h), "dtype I64 is not supported");
	h = pad8("{" NORM ": {\"dtype\": \"F33\", \"shape\": [32], \"data_offsets\": [0, 128]}}");
	expect(h, 128, at_norm(h), "unknown dtype 'F33'");
	h = pad8("{" NORM ": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 128]}}");
	expect(h, 128, at_norm(h), "shape[0] is not a dimension");
	h = pad8("{" NORM ": {\"dtype\": \"F32\", \"shape\": [1,1,1,2,16], \"data_offsets\": [0, 128]}}");
	expect(h, 128, at_norm(h), "5 dimensions");
	h = pad8("{" NORM ": {\"dtype\": \"F32\", \"shape\": [1099511627776, 1099511627776], \"data_offsets\": [0, 128]}}");
	expect(h, 128, at_norm(h), "shape overflows");
	h = pad8("{" NORM ": {\"dtype\": \"F32\", \"shape\": [32], \"data_offsets\": [128, 0]}}");
	expect(h, 128, at_norm(h), "data_offsets must be [begin, end]");
	h = pad8("{" NORM ": {\"dtype\": \"F32\", \"shape\": [32], \"data_offsets\": [0, 4096]}}");
	expect(h, 128, at_norm(h), "run past the 128-byte data buffer");
	h = pad8("{" NORM ": {\"dtype\": \"F16\", \"shape\": [32], \"data_offsets\": [0, 128]}}");
	expect(h, 128, at_norm(h), "128 bytes in data_offsets, but F16 × 32 elements need 64");
	h = pad8("{\"__metadata__\": {\"a\": 1}, " NORM ": {\"dtype\": \"F32\", \"shape\": [32], \"data_offsets\": [0, 128]}}");
	expect(h, 128, st_key_offset(h, "a"), "__metadata__: 'a' is not a string");
}
END_TEST

START_TEST(bad_ranges)
{
	const char *h;
	h = pad8("{" NORM ": {\"dtype\": \"F32\", \"shape\": [32], \"data_offsets\": [0, 128]},"
		 " \"lm_head.weight\": {\"dtype\": \"F32\", \"shape\": [1, 32], \"data_offsets\": [64, 192]}}");
	expect(h, 192, st_key_offset(h, "lm_head.weight"), "data_offsets [64, 192] overlap");
	h = pad8("{" NORM ": {\"dtype\": \"F32\", \"shape\": [32], \"data_offsets\": [0, 128]},"
		 " \"lm_head.weight\": {\"dtype\": \"F32\", \"shape\": [1, 32], \"data_offsets\": [192, 320]}}");
	expect(h, 320, st_key_offset(h, "lm_head.weight"), "data bytes 128..192 belong to no tensor");
	h = pad8("{" NORM ": {\"dtype\": \"F32\", \"shape\": [32], \"data_offsets\": [0, 128]}}");
	expect(h, 160, (long)(8 + strlen(h) + 128), "32 bytes after the last tensor's data");
	/* not padded: data at an odd byte */
	char odd[256];
	snprintf(odd, sizeof odd, "{" NORM ": {\"dtype\": \"F32\", \"shape\": [32], \"data_offsets\": [0, 128]}}");
	while ((8 + strlen(odd)) % 4 != 1)
		strcat(odd, " ");
	expect(odd, 128, at_norm(odd), "is not aligned to its 4-byte elements");
	/* the same file padded loads as far as the weights go */
	h = pad8("{" NORM ": {\"dtype\": \"F32\", \"shape\": [32], \"data_offsets\": [0, 128]}}");
	expect(h, 128, -1, "no token embedding");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("safetensors");
	TCase *tc = tcase_create("malformed");
	tcase_add_test(tc, bad_container);
	tcase_add_test(tc, bad_entries);
	tcase_add_test(tc, bad_ranges);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
