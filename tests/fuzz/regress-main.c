/* tests/fuzz/regress-main.c — the normal suite's side of a fuzz harness:
 * feeds every file of tests/fuzz/regress/<harness>/ to the harness's
 * pb_fuzz_one, without libFuzzer (a plain gcc build runs it), so each
 * crash a fuzzer ever found stays a test.
 *
 *   fuzz-regress-<harness> [--deep-yaml N] DIR|FILE...
 *
 * What passes:
 *   - every input: no crash, no sanitizer report, no leak (under the ASan
 *     suite), and no failed harness check (PB_FUZZ_CHECK_FAILED; strict
 *     checks on, see fuzz.h);
 *   - a file whose name contains ".reject": the parser refuses it (< 0).
 * DIR/KNOWN-FAILING lists inputs (one name per line, '#' comments) that
 * fail today because of a bug another change fixes: they still run, a
 * failure is reported as XFAIL, and a pass is an error ("XPASS"), so the
 * fix must take its line out.
 * --deep-yaml N adds a generated input, "x-deep: " and N nested flow
 * sequences, which must be refused (issue 14 item 1: too deep); its time
 * is printed, not asserted. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fuzz.h"
#include "util/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static int n_pass, n_fail, n_xfail;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One input: 0 as expected, else why not (static text). */
static const char *run_one(const char *name, const uint8_t *p, size_t n, double *ms)
{
	double t0 = now_ms();
	int rc = pb_fuzz_one(p, n);
	*ms = now_ms() - t0;
	if (rc == PB_FUZZ_CHECK_FAILED)
		return "a harness check failed (see above)";
	if (strstr(name, ".reject") && rc >= 0)
		return "accepted, but must be refused (.reject)";
	return NULL;
}

static void report(const char *label, const char *why, int known, double ms)
{
	if (!why && !known) {
		printf("ok     %s (%.1f ms)\n", label, ms);
		n_pass++;
	} else if (why && known) {
		printf("XFAIL  %s (%.1f ms): %s; listed in KNOWN-FAILING\n", label, ms, why);
		n_xfail++;
	} else if (why) {
		printf("FAIL   %s (%.1f ms): %s\n", label, ms, why);
		n_fail++;
	} else {
		printf("XPASS  %s (%.1f ms): passes now; take it out of KNOWN-FAILING\n", label, ms);
		n_fail++;
	}
	fflush(stdout);
}

/* Is name listed in the folder's KNOWN-FAILING? */
static int known_failing(const char *dir, const char *name)
{
	char path[4096], line[1024];
	snprintf(path, sizeof path, "%s/KNOWN-FAILING", dir);
	FILE *f = fopen(path, "r");
	int found = 0;
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof line, f)) {
		line[strcspn(line, "# \t\r\n")] = '\0';
		found = line[0] && !strcmp(line, name);
	}
	fclose(f);
	return found;
}

static void run_file(const char *path, const char *dir)
{
	char *buf = NULL;
	size_t n = 0;
	double ms = 0;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int rc = pb_read_file(path, &buf, &n);
	if (rc < 0) {
		printf("FAIL   %s: cannot read: %s\n", path, strerror(-rc));
		n_fail++;
		return;
	}
	const char *why = run_one(base, (const uint8_t *)buf, n, &ms);
	report(path, why, dir && known_failing(dir, base), ms);
	free(buf);
}

static void run_dir(const char *dir)
{
	struct dirent **list = NULL;
	char path[4096];
	int n = scandir(dir, &list, NULL, alphasort);
	if (n < 0) {
		printf("FAIL   %s: %s\n", dir, strerror(errno));
		n_fail++;
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		struct stat st;
		if (name[0] != '.' && strcmp(name, "KNOWN-FAILING") && strcmp(name, "README") &&
		    snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode))
			run_file(path, dir);
		free(list[i]);
	}
	free(list);
}

static void run_deep_yaml(long depth)
{
	static const char head[] = "x-deep: ";
	size_t n = sizeof head - 1 + 2 * (size_t)depth + 1;
	char *buf = malloc(n), label[64];
	double ms = 0;
	if (!buf) {
		perror("malloc");
		exit(1);
	}
	memcpy(buf, head, sizeof head - 1);
	memset(buf + sizeof head - 1, '[', (size_t)depth);
	memset(buf + sizeof head - 1 + depth, ']', (size_t)depth);
	buf[n - 1] = '\n';
	snprintf(label, sizeof label, "deep-yaml-%ld.reject (generated)", depth);
	const char *why = run_one(label, (const uint8_t *)buf, n, &ms);
	report(label, why, 0, ms);
	free(buf);
}

int main(int argc, char **argv)
{
	int argc_copy = argc;
	pb_fuzz_strict = 1;
	LLVMFuzzerInitialize(&argc_copy, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (!strcmp(argv[i], "--deep-yaml") && i + 1 < argc) {
			run_deep_yaml(strtol(argv[++i], NULL, 10));
		} else if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			run_dir(argv[i]);
		} else {
			run_file(argv[i], NULL);
		}
	}
	printf("%d passed, %d failed, %d known failing\n", n_pass, n_fail, n_xfail);
	return n_fail ? 1 : 0;
}
