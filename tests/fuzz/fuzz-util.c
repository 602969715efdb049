/* tests/fuzz/fuzz-util.c — the scratch folder, file writing and input
 * splitting the harnesses share (fuzz.h), and the libFuzzer entry points
 * around each harness's pb_fuzz_init / pb_fuzz_one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

int pb_fuzz_strict;

static char scratch[512];

static void scratch_remove(void)
{
	if (scratch[0])
		pb_rm_rf(scratch);
}

const char *pb_fuzz_dir(void)
{
	if (scratch[0])
		return scratch;
	const char *base = getenv("TMPDIR");
	snprintf(scratch, sizeof scratch, "%s/pb-fuzz-XXXXXX", base && base[0] ? base : "/tmp");
	if (!mkdtemp(scratch)) {
		perror("pb-fuzz: mkdtemp");
		abort();
	}
	atexit(scratch_remove);
	return scratch;
}

const char *pb_fuzz_path(const char *name)
{
	static char slot[4][1024];
	static int k;
	char *s = slot[k++ % 4];
	if (pb_path_join(s, sizeof slot[0], pb_fuzz_dir(), name) < 0)
		abort();
	return s;
}

void pb_fuzz_write(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		fprintf(stderr, "pb-fuzz: cannot write %s: %s\n", path, strerror(errno));
		abort();
	}
}

void pb_fuzz_unlink(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT) {
		fprintf(stderr, "pb-fuzz: cannot remove %s: %s\n", path, strerror(errno));
		abort();
	}
}

int pb_fuzz_split(const uint8_t *data, size_t size, struct pb_fuzz_part *parts, int max)
{
	int n = 0;
	const uint8_t *p = data, *end = data + size;
	while (n < max - 1) {
		const uint8_t *s = size ? memmem(p, (size_t)(end - p), PB_FUZZ_SEP, PB_FUZZ_SEP_LEN) : NULL;
		if (!s)
			break;
		parts[n].p = p;
		parts[n].n = (size_t)(s - p);
		n++;
		p = s + PB_FUZZ_SEP_LEN;
	}
	parts[n].p = p;
	parts[n].n = (size_t)(end - p);
	return n + 1;
}

void pb_fuzz_write_parts(const char *dir, const char *const *names, int n_names,
			 const uint8_t *data, size_t size)
{
	struct pb_fuzz_part parts[32];
	char path[1024];
	if (n_names > 32)
		abort();
	int n = pb_fuzz_split(data, size, parts, n_names);
	for (int i = 0; i < n_names; i++) {
		if (pb_path_join(path, sizeof path, dir, names[i]) < 0)
			abort();
		if (i < n && parts[i].n)
			pb_fuzz_write(path, parts[i].p, parts[i].n);
		else
			pb_fuzz_unlink(path);
	}
}

int pb_fuzz_model_use(const struct pb_model *m)
{
	static const char text[] = "Once upon a time, a tiny model said: \"héllo\" \xe2\x96\x81 <s> 123\n\tend";
	const struct pb_tokenizer *t = pb_model_tokenizer(m);
	int32_t ids[256];
	char buf[512];
	int rc = 0;
	if (!t)
		return 0;
	int n = pb_tokenize(t, text, 1, ids, (int)PB_ARRAY_LEN(ids));
	if (n > 0) {
		if (n > (int)PB_ARRAY_LEN(ids))
			n = (int)PB_ARRAY_LEN(ids);
		pb_tokenizer_decode(t, ids, n, buf, sizeof buf);
	}
	/* ids past the tokenizer (a padded vocab_size) are never generated
	 * and decode to nothing in generation (core/run/generate.c): the live
	 * vocab is what must decode */
	int live = pb_model_live_vocab(m, t);
	if (pb_fuzz_strict && live > pb_tokenizer_vocab(t) && !rc) {
		fprintf(stderr, "pb-fuzz: live vocab %d exceeds the tokenizer's %d\n", live,
			pb_tokenizer_vocab(t));
		rc = PB_FUZZ_CHECK_FAILED;
	}
	int vocab = live > 4096 ? 4096 : live;
	for (int id = 0; id < vocab; id++) {
		buf[0] = '\0';
		int r = pb_detokenize(t, id, buf, sizeof buf);
		if (r < 0 && r != -ENOSPC && pb_fuzz_strict && !rc) {
			fprintf(stderr, "pb-fuzz: id %d of a %d-token model (tokenizer: %d) cannot be decoded: %s\n",
				id, m->hp.vocab, pb_tokenizer_vocab(t), strerror(-r));
			rc = PB_FUZZ_CHECK_FAILED;
		}
	}
	return rc;
}

/* ---- libFuzzer */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pb_log_level_set(PB_LOG_ERROR);
	pb_fuzz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pb_fuzz_one(data, size);
	return 0;
}
