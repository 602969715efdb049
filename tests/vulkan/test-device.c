/* tests/vulkan/test-device.c — the vulkan backend's door: available()
 * with and without a loader or a driver, the `device` option (index,
 * name, no match), option checks, the pipeline cache on disk, and the
 * GPU clock.  Exit 77 without a Vulkan device. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "vkbe.h"

static const struct pb_plugin *plugin(void)
{
	void *dl;
	const struct pb_plugin *p = be_plugin("vulkan", &dl);
	ck_assert_ptr_nonnull(p);
	return p;
}

START_TEST(available_lists_devices)
{
	char why[1024] = "";
	ck_assert_int_eq(plugin()->available(&be_host, why, sizeof why), 0);
	ck_assert_msg(strstr(why, "device") && strstr(why, "[0] ") && strstr(why, "Vulkan 1."), "%s", why);
}
END_TEST

/* Check forks each test: the environment changes stay in it. */
START_TEST(no_loader)
{
	char why[1024] = "";
	setenv("PB_VULKAN_LOADER", "/nonexistent/libvulkan.so.1", 1);
	ck_assert_int_eq(plugin()->available(&be_host, why, sizeof why), -ENOENT);
	ck_assert_msg(strstr(why, "no Vulkan loader") && strstr(why, "/nonexistent/libvulkan.so.1"),
		      "%s", why);
	void *st = NULL;
	struct vk_config cfg = be_vk_defaults();
	ck_assert_int_eq(plugin()->init(&be_host, &cfg, &st), -ENOENT);
	ck_assert_ptr_null(st);
}
END_TEST

START_TEST(no_driver)
{
	char why[1024] = "";
	setenv("VK_ICD_FILENAMES", "/nonexistent/icd.json", 1);
	setenv("VK_DRIVER_FILES", "/nonexistent/icd.json", 1);
	ck_assert_int_lt(plugin()->available(&be_host, why, sizeof why), 0);
	ck_assert_msg(strstr(why, "no Vulkan driver") || strstr(why, "no Vulkan device"), "%s", why);
}
END_TEST

START_TEST(device_option)
{
	struct be b;
	struct vk_config cfg = be_vk_defaults();
	char why[1024] = "", name[64];
	ck_assert_int_eq(plugin()->available(&be_host, why, sizeof why), 0);
	/* the first device's name, up to its first space, as a substring */
	const char *at = strstr(why, "[0] ") + 4;
	snprintf(name, sizeof name, "%.*s", (int)strcspn(at, " ("), at);
	strcpy(cfg.device, "0");
	be_open(&b, "vulkan", &cfg);
	ck_assert_msg(strstr(be_info_log, name), "'%s' not in '%s'", name, be_info_log);
	be_close(&b);
	for (char *c = name; *c; c++)   /* any case */
		*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
	snprintf(cfg.device, sizeof cfg.device, "%s", name);
	be_open(&b, "vulkan", &cfg);
	be_close(&b);
	void *st = NULL;
	strcpy(cfg.device, "no-such-gpu");
	ck_assert_int_eq(plugin()->init(&be_host, &cfg, &st), -ENODEV);
	ck_assert_msg(strstr(be_last_log, "no-such-gpu") && strstr(be_last_log, "[0] "), "%s", be_last_log);
	strcpy(cfg.device, "17");
	ck_assert_int_eq(plugin()->init(&be_host, &cfg, &st), -ENODEV);
	cfg = be_vk_defaults();
	cfg.workgroup = 96;   /* not a power of two */
	ck_assert_int_eq(plugin()->init(&be_host, &cfg, &st), -EINVAL);
	ck_assert_ptr_null(st);
}
END_TEST

static int count_cache_files(const char *dir, off_t *size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	char path[4200];
	struct stat stt;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "vulkan-", 7) && strstr(e->d_name, ".pipelines")) {
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			if (stat(path, &stt) == 0)
				*size = stt.st_size;
			n++;
		}
	closedir(d);
	return n;
}

/* One small step: embed, rmsnorm, linear; pipelines get made. */
static void one_step(struct be *b, double *gpu_ms)
{
	static float emb[4 * 8], norm[8], w[8 * 3];
	struct pb_tensor t[3] = {
		{ .name = "emb", .dtype = PB_F32, .n_dims = 2, .ne = { 8, 4, 1, 1 }, .data = emb,
		  .nbytes = sizeof emb, .role = PB_ROLE_TOK_EMBD },
		{ .name = "norm", .dtype = PB_F32, .n_dims = 1, .ne = { 8, 1, 1, 1 }, .data = norm,
		  .nbytes = sizeof norm, .role = PB_ROLE_OUT_NORM },
		{ .name = "out", .dtype = PB_F32, .n_dims = 2, .ne = { 8, 3, 1, 1 }, .data = w,
		  .nbytes = sizeof w, .role = PB_ROLE_OUTPUT },
	};
	for (int i = 0; i < 32; i++)
		emb[i] = (float)i / 8;
	for (int i = 0; i < 8; i++)
		norm[i] = 1;
	for (int i = 0; i < 24; i++)
		w[i] = (i % 8) % 3 == i / 8 ? 1.0f : 0.0f;   /* W[k][j] = 1 where j % 3 == k */
	struct pb_model m = { .tensors = t, .n_tensors = 3 };
	const int64_t sizes[3] = { 8, 8, 3 };
	const int32_t tok = 2;
	const struct pb_op ops[3] = {
		{ .type = PB_OP_EMBED, .n_tokens = 1, .weight = 0, .dst = { .buf = 0 }, .p.embed.dim = 8 },
		{ .type = PB_OP_RMSNORM, .n_tokens = 1, .weight = 1, .dst = { .buf = 1 },
		  .src = { { .buf = 0 } }, .p.rmsnorm = { .dim = 8, .eps = 1e-6f } },
		{ .type = PB_OP_LINEAR, .n_tokens = 1, .weight = 2, .dst = { .buf = 2 },
		  .src = { { .buf = 1 } }, .p.linear = { .n_in = 8, .n_out = 3 } },
	};
	const struct pb_graph g = { .ops = ops, .n_ops = 3, .tokens = &tok, .n_tokens = 1 };
	float y[3];
	ck_assert_int_eq(b->ops->weights_load(b->st, &m), 0);
	ck_assert_int_eq(b->ops->buffers_alloc(b->st, sizes, 3), 0);
	ck_assert_int_eq(b->ops->graph_compute(b->st, &g), 0);
	ck_assert_int_eq(b->ops->buffer_read(b->st, 2, 0, 3, y), 0);
	ck_assert_int_eq(b->ops->device_ms(b->st, gpu_ms), 0);
	/* x = 2..2.875 (row 2 of emb), normed; y[k] = sum of columns k, k+3.. of x */
	double ss = 0, x[8], want[3] = { 0, 0, 0 };
	for (int i = 0; i < 8; i++) {
		x[i] = 2 + i / 8.0;
		ss += x[i] * x[i];
	}
	for (int i = 0; i < 8; i++)
		want[i % 3] += x[i] / sqrt(ss / 8 + 1e-6);
	for (int k = 0; k < 3; k++)
		ck_assert_msg(fabs(y[k] - want[k]) < 1e-5, "y[%d] = %g, expected %g", k, y[k], want[k]);
}

START_TEST(pipeline_cache_and_clock)
{
	char dir[] = "/tmp/pb-vk-cache.XXXXXX", sub[256];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("XDG_CACHE_HOME", dir, 1);
	snprintf(sub, sizeof sub, "%s/prunebench", dir);
	struct vk_config cfg = be_vk_defaults();
	struct be b;
	double ms = -1;
	off_t size = 0;
	be_open(&b, "vulkan", &cfg);   /* pipeline_cache off */
	one_step(&b, &ms);
	be_close(&b);
	ck_assert_int_eq(count_cache_files(sub, &size), 0);
	ck_assert_msg(ms > 0, "GPU time %g ms", ms);
	cfg.pipeline_cache = 1;
	be_open(&b, "vulkan", &cfg);
	one_step(&b, &ms);
	be_close(&b);
	ck_assert_int_eq(count_cache_files(sub, &size), 1);
	ck_assert_int_ge(size, 32);   /* lavapipe keeps only the header */
	/* a second run reads it (and writes it back whole) */
	be_open(&b, "vulkan", &cfg);
	one_step(&b, &ms);
	be_close(&b);
	ck_assert_int_eq(count_cache_files(sub, &size), 1);
	/* a damaged file is ignored, then replaced by a valid one */
	char path[512];
	DIR *d = opendir(sub);
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] == 'v')
			snprintf(path, sizeof path, "%s/%s", sub, e->d_name);
	closedir(d);
	FILE *f = fopen(path, "wb");
	fputs("not a pipeline cache, but long enough to look at its header", f);
	fclose(f);
	be_open(&b, "vulkan", &cfg);
	one_step(&b, &ms);
	be_close(&b);
	ck_assert_int_eq(count_cache_files(sub, &size), 1);
	uint32_t hdr[2] = { 0, 0 };
	f = fopen(path, "rb");
	ck_assert_int_eq(fread(hdr, 4, 2, f), 2);
	fclose(f);
	ck_assert_msg(hdr[0] >= 32 && hdr[1] == 1, "header %u %u", hdr[0], hdr[1]);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
}
END_TEST

int main(void)
{
	be_require_vulkan();
	Suite *s = suite_create("vulkan-device");
	TCase *tc = tcase_create("device");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, available_lists_devices);
	tcase_add_test(tc, no_loader);
	tcase_add_test(tc, no_driver);
	tcase_add_test(tc, device_option);
	tcase_add_test(tc, pipeline_cache_and_clock);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
