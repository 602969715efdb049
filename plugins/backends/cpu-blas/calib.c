/* plugins/backends/cpu-blas/calib.c — `gemm: auto`'s calibration: which
 * prefill GEMM, the native one (gemm.h) or OpenBLAS sgemm, is faster for
 * each linear shape and format of the model on this machine.
 *
 * At weights_load, for every distinct (rows, columns, format) of the
 * linears whose prefill runs a float GEMM (not CSR, not the int8 GEMM of
 * repacked Q8_0/Q4_0), both paths are timed on one thread, as gemm_task
 * runs them, over the tensor's first CAL_ROWS rows and CAL_TOKENS tokens:
 * one warm-up each, then CAL_REPS alternated runs, the fastest of each
 * (the least disturbed).  The faster path runs that shape.
 *
 * A choice is measured once per machine and kept in a cache file
 * (option gemm_cache; "auto": $XDG_CACHE_HOME/prunebench/cpu-blas-gemm.tsv,
 * else ~/.cache/prunebench/…), so that every later run of an experiment
 * on this machine chooses alike whatever the load of the moment — the
 * two paths round differently, and a choice that flipped from run to run
 * would change results.  Where the cache cannot be read or written, or
 * under gemm_cache "" (what a zeroed config holds), auto keeps the rule
 * on the CPU's features (cb_init) and says why.  The file is a list of
 * tab-separated lines keyed by the CPU (model name, family, model,
 * stepping), the native GEMM's ISA,
 * OpenBLAS's core, the build (sanitizers slow only the native side), the
 * plugin version, tokens and the shape; a flock on "<cache>.lock" keeps
 * processes of one node (Slurm array tasks) from measuring at once.  The
 * file is input like any other: a malformed line is skipped with a
 * warning naming the file and line, never trusted.
 *
 * describe() reports every choice with its figures and source
 * (measured, cache, rule), which the cell's manifest keeps. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cpu-blas.h"

#ifdef CB_HAVE_OPENBLAS
#include <cblas.h>
#endif

#define CAL_TOKENS 128      /* x rows: the prefill length bench/tokens times */
#define CAL_ROWS 512        /* weight rows timed, at most: several tiles of either path */
#define CAL_REPS 5
#define CAL_FIELDS 12
#define CAL_LINE_MAX 1024

#if defined(__SANITIZE_ADDRESS__)
#define CAL_FLAVOR "asan"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CAL_FLAVOR "asan"
#endif
#endif
#ifndef CAL_FLAVOR
#define CAL_FLAVOR "plain"
#endif

#ifdef CB_HAVE_OPENBLAS
static const char cal_header[] =
	"# prunebench cpu-blas gemm calibration (plugins/backends/cpu-blas/calib.c): "
	"cpu\tgemm_isa\topenblas_core\tbuild\tplugin\ttokens\tn_out\tn_in\tformat\t"
	"native_gflops\topenblas_gflops\tchoice\n";

/* The CPU from /proc/cpuinfo: x86's "model name" with its family, model
 * and stepping (a VM may name every generation "AMD EPYC"), arm64's
 * implementer and part; tabs and controls made spaces; "unknown" without
 * any. */
static void cpu_model(char *out, size_t len)
{
	static const char *const keys[] = { "model name", "cpu family", "model", "stepping",
					    "CPU implementer", "CPU part" };
	char val[6][96] = { "" }, line[512];
	FILE *f = fopen("/proc/cpuinfo", "re");
	snprintf(out, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '\n')
			break;   /* the first CPU's block is enough */
		const char *c = strchr(line, ':');
		if (!c)
			continue;
		size_t kl = (size_t)(c - line);
		while (kl && (line[kl - 1] == ' ' || line[kl - 1] == '\t'))
			kl--;
		for (int i = 0; i < 6; i++)
			if (strlen(keys[i]) == kl && !strncmp(line, keys[i], kl) && !val[i][0]) {
				c += 1 + (c[1] == ' ');
				snprintf(val[i], sizeof val[i], "%.*s", (int)strcspn(c, "\n"), c);
			}
	}
	fclose(f);
	if (val[0][0] || val[5][0])
		snprintf(out, len, "%s%s%s%s%s%s%s%s%s", val[0][0] ? val[0] : "arm64",
			 val[1][0] ? " family " : "", val[1], val[2][0] ? " model " : "", val[2],
			 val[3][0] ? " stepping " : "", val[3], val[5][0] ? " part " : "", val[5]);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

/* "auto": the user's cache folder, created when missing. */
static int cache_path(const char *opt, char *out, size_t len)
{
	if (strcmp(opt, "auto")) {
		if (snprintf(out, len, "%s", opt) >= (int)len)
			return -ENAMETOOLONG;
		return 0;
	}
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char dir[PB_OPT_STR_MAX + 64];
	if (xdg && xdg[0] == '/')
		snprintf(dir, sizeof dir, "%s", xdg);
	else if (home && home[0])
		snprintf(dir, sizeof dir, "%s/.cache", home);
	else
		return -ENOENT;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (strlen(dir) + sizeof "/prunebench/cpu-blas-gemm.tsv" > len)
		return -ENAMETOOLONG;
	strcat(dir, "/prunebench");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(out, len, "%s/cpu-blas-gemm.tsv", dir);
	return 0;
}

struct cal_key {
	char cpu[640], isa[16], blas[64], build[16], plugin[32];
};

/* Split a line at tabs into exactly n fields (the line is modified);
 * 0, or -1 when the count differs. */
static int split(char *line, char **f, int n)
{
	int k = 0;
	char *p = line;
	for (;;) {
		if (k == n)
			return -1;
		f[k++] = p;
		char *t = strchr(p, '\t');
		if (!t)
			break;
		*t = '\0';
		p = t + 1;
	}
	return k == n ? 0 : -1;
}

static int parse_i64(const char *s, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || end == s || *end || x < 1)
		return -1;
	*v = x;
	return 0;
}

static int parse_gflops(const char *s, double *v)
{
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(x) || x <= 0)
		return -1;
	*v = x;
	return 0;
}

/* Fill every entry the cache file has; warnings for lines it cannot
 * read.  A missing file is an empty cache. */
static void cache_read(struct cb_state *s, const char *path, const struct cal_key *k)
{
	FILE *f = fopen(path, "re");
	char line[CAL_LINE_MAX + 2];
	long no = 0;
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		size_t n = strlen(line);
		no++;
		if (n && line[n - 1] == '\n') {
			line[--n] = '\0';
		} else if (!feof(f)) {
			/* longer than any line this file gets: skip the rest of it
			 * (read a buffer at a time, never held whole) */
			int c;
			while ((c = getc(f)) != EOF && c != '\n')
				;
			n = CAL_LINE_MAX + 1;
		}
		if (n == 0 || line[0] == '#')
			continue;
		char *fl[CAL_FIELDS];
		int64_t tokens, n_out, n_in;
		double gn, gb;
		if (n > CAL_LINE_MAX || split(line, fl, CAL_FIELDS) < 0 ||
		    parse_i64(fl[5], &tokens) < 0 || parse_i64(fl[6], &n_out) < 0 ||
		    parse_i64(fl[7], &n_in) < 0 || parse_gflops(fl[9], &gn) < 0 ||
		    parse_gflops(fl[10], &gb) < 0 ||
		    (strcmp(fl[11], "native") && strcmp(fl[11], "openblas"))) {
			CB_LOG(s, PB_LOG_WARN, "%s:%ld: not a calibration line (expected %d tab-separated "
			       "fields: cpu, gemm_isa, openblas_core, build, plugin, tokens, n_out, n_in, "
			       "format, native_gflops, openblas_gflops, native|openblas, in at most %d "
			       "bytes); skipped", path, no, CAL_FIELDS, CAL_LINE_MAX);
			continue;
		}
		if (strcmp(fl[0], k->cpu) || strcmp(fl[1], k->isa) || strcmp(fl[2], k->blas) ||
		    strcmp(fl[3], k->build) || strcmp(fl[4], k->plugin) || tokens != CAL_TOKENS)
			continue;
		for (int i = 0; i < s->n_cal; i++) {
			struct cb_cal *c = &s->cal[i];
			if (c->source == CB_CAL_NONE && c->n_out == n_out && c->n_in == n_in &&
			    !strcmp(fl[8], pb_dtype_name(c->dtype))) {
				c->native_gflops = gn;
				c->blas_gflops = gb;
				c->native = !strcmp(fl[11], "native");
				c->source = CB_CAL_CACHE;
			}
		}
	}
	fclose(f);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Time both paths on tensor c->idx; 0, or -ENOMEM. */
static int measure(struct cb_state *s, struct cb_cal *c)
{
	const int64_t rows = c->n_out < CAL_ROWS ? c->n_out : CAL_ROWS, n_in = c->n_in;
	float *x = malloc((size_t)(CAL_TOKENS * n_in) * sizeof *x);
	float *y = malloc((size_t)(CAL_TOKENS * rows) * sizeof *y);
	double best[2] = { INFINITY, INFINITY };
	uint32_t r = 0x9e3779b9u;
	if (!x || !y) {
		free(x);
		free(y);
		return -ENOMEM;
	}
	for (int64_t i = 0; i < CAL_TOKENS * n_in; i++) {
		r = r * 1664525u + 1013904223u;
		x[i] = (float)(r >> 8) / 8388608.0f - 1.0f;
	}
	for (int rep = -1; rep < CAL_REPS; rep++)
		for (int native = 0; native < 2; native++) {
			const double t0 = now_s();
			cb_linear_gemm_rows(s, c->idx, x, CAL_TOKENS, y, rows, native);
			const double t = now_s() - t0;
			if (rep >= 0 && t < best[native])
				best[native] = t;
		}
	const double flop = 2.0 * CAL_TOKENS * (double)rows * (double)n_in;
	c->native_gflops = flop / best[1] / 1e9;
	c->blas_gflops = flop / best[0] / 1e9;
	c->native = c->native_gflops >= c->blas_gflops;
	c->source = CB_CAL_MEASURED;
	free(x);
	free(y);
	return 0;
}

#endif

void cb_calibrate(struct cb_state *s)
{
	for (int i = 0; i < s->n_w; i++)
		s->w[i].gemm_native = s->gemm_native;
	s->cal_how[0] = '\0';
	if (s->cfg.gemm != CB_GEMM_AUTO)
		return;
#ifndef CB_HAVE_OPENBLAS
	snprintf(s->cal_how, sizeof s->cal_how, "no calibration: this build has no OpenBLAS");
	return;
#else
	if (!s->cfg.gemm_cache[0] || !strcmp(s->cfg.gemm_cache, "off")) {
		snprintf(s->cal_how, sizeof s->cal_how, "no calibration (gemm_cache off): the rule "
			 "on the CPU's features");
		return;
	}
	/* the distinct shapes, each with the first tensor that has it */
	free(s->cal);
	s->cal = calloc((size_t)(s->n_w ? s->n_w : 1), sizeof *s->cal);
	s->n_cal = 0;
	if (!s->cal) {
		snprintf(s->cal_how, sizeof s->cal_how, "no calibration (out of memory): the rule");
		return;
	}
	for (int i = 0; i < s->n_w; i++) {
		if (!cb_linear_float_gemm(s, i))
			continue;
		const struct pb_tensor *t = &s->m->tensors[i];
		int j = 0;
		while (j < s->n_cal && !(s->cal[j].n_out == t->ne[1] && s->cal[j].n_in == t->ne[0] &&
					 s->cal[j].dtype == t->dtype))
			j++;
		if (j == s->n_cal)
			s->cal[s->n_cal++] = (struct cb_cal){ .idx = i, .n_out = t->ne[1],
							      .n_in = t->ne[0], .dtype = t->dtype };
	}
	if (!s->n_cal)
		return;

	struct cal_key k;
	char path[PB_OPT_STR_MAX + 64], lock[PB_OPT_STR_MAX + 80];
	int rc = cache_path(s->cfg.gemm_cache, path, sizeof path), lfd = -1, missing = 0;
	cpu_model(k.cpu, sizeof k.cpu);
	snprintf(k.isa, sizeof k.isa, "%s", s->gemm.isa);
	snprintf(k.blas, sizeof k.blas, "%s", openblas_get_corename());
	for (char *p = k.blas; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	snprintf(k.build, sizeof k.build, "%s", CAL_FLAVOR);
	snprintf(k.plugin, sizeof k.plugin, "%s", CB_VERSION);
	/* a FIFO would block the load, a folder or device is no cache */
	struct stat pst;
	if (rc == 0 && stat(path, &pst) == 0 && !S_ISREG(pst.st_mode))
		rc = -EINVAL;
	if (rc == 0) {
		snprintf(lock, sizeof lock, "%s.lock", path);
		lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (lfd < 0 || flock(lfd, LOCK_EX) < 0)
			rc = -errno;
	}
	if (rc < 0) {
		snprintf(s->cal_how, sizeof s->cal_how, "no calibration: cache %s: %s; the rule on the "
			 "CPU's features (a measured choice no later run could repeat is not used)",
			 rc == -ENOENT && !strcmp(s->cfg.gemm_cache, "auto") ? "(no HOME nor XDG_CACHE_HOME)"
									     : path,
			 rc == -EINVAL ? "not a regular file" : strerror(-rc));
		CB_LOG(s, PB_LOG_WARN, "gemm: auto: %s", s->cal_how);
		if (lfd >= 0)
			close(lfd);
		return;
	}
	cache_read(s, path, &k);
	for (int j = 0; j < s->n_cal; j++)
		missing += s->cal[j].source == CB_CAL_NONE;
	if (missing) {
		/* measure and append under the lock; a cache that cannot be
		 * written keeps the rule for what it lacks */
		struct stat st;
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
		if (!f) {
			rc = -errno;
			if (fd >= 0)
				close(fd);
			snprintf(s->cal_how, sizeof s->cal_how, "cache %s cannot be written (%s): %d "
				 "shape(s) not in it keep the rule on the CPU's features", path,
				 strerror(-rc), missing);
			CB_LOG(s, PB_LOG_WARN, "gemm: auto: %s", s->cal_how);
		} else {
			const double t0 = now_s();
			if (fstat(fd, &st) == 0 && st.st_size == 0)
				fputs(cal_header, f);
			for (int j = 0; j < s->n_cal; j++) {
				struct cb_cal *c = &s->cal[j];
				if (c->source != CB_CAL_NONE || measure(s, c) < 0)
					continue;
				fprintf(f, "%s\t%s\t%s\t%s\t%s\t%d\t%lld\t%lld\t%s\t%.2f\t%.2f\t%s\n", k.cpu,
					k.isa, k.blas, k.build, k.plugin, CAL_TOKENS, (long long)c->n_out,
					(long long)c->n_in, pb_dtype_name(c->dtype), c->native_gflops,
					c->blas_gflops, c->native ? "native" : "openblas");
			}
			if (fclose(f) != 0) {
				/* not kept: the next run would measure again */
				for (int j = 0; j < s->n_cal; j++)
					if (s->cal[j].source == CB_CAL_MEASURED)
						s->cal[j].source = CB_CAL_NONE;
				snprintf(s->cal_how, sizeof s->cal_how, "cache %s could not be written (%s): "
					 "the rule for the shapes it lacks", path, strerror(errno));
				CB_LOG(s, PB_LOG_WARN, "gemm: auto: %s", s->cal_how);
			} else {
				snprintf(s->cal_how, sizeof s->cal_how, "%d shape(s) measured in %.0f ms and "
					 "added to %s", missing, (now_s() - t0) * 1e3, path);
			}
		}
	}
	if (!s->cal_how[0])
		snprintf(s->cal_how, sizeof s->cal_how, "every shape from %s", path);
	close(lfd);
	for (int j = 0; j < s->n_cal; j++) {
		const struct cb_cal *c = &s->cal[j];
		if (c->source == CB_CAL_NONE)
			continue;
		for (int i = 0; i < s->n_w; i++) {
			const struct pb_tensor *t = &s->m->tensors[i];
			if (cb_linear_float_gemm(s, i) && t->ne[1] == c->n_out && t->ne[0] == c->n_in &&
			    t->dtype == c->dtype)
				s->w[i].gemm_native = c->native;
		}
	}
	CB_LOG(s, PB_LOG_INFO, "gemm: auto: %s", s->cal_how);
#endif
}

/* YAML for describe(): the prefill GEMM's choices and why. */
int cb_describe(void *state, char *out, size_t len)
{
	static const char *const src[] = { "rule", "measured", "cache" };
	static const char *const mode[] = { "auto", "native", "openblas" };
	const struct cb_state *s = state;
	size_t at = 0;
	int n;
#define PUT(...)                                                                  \
	do {                                                                      \
		n = snprintf(out + at, len - at, __VA_ARGS__);                    \
		if (n < 0 || (size_t)n >= len - at)                               \
			return -ENOSPC;                                           \
		at += (size_t)n;                                                  \
	} while (0)
	if (!len)
		return -ENOSPC;
	out[0] = '\0';
	PUT("kernels: %s\nattention: %s\ngemm: %s\ngemm_isa: %s\n", s->k.isa, s->k.attn_isa,
	    s->cfg.gemm >= 0 && s->cfg.gemm < 3 ? mode[s->cfg.gemm] : "?", s->gemm.isa);
	PUT("gemm_default: %s\n", s->gemm_native ? "native" : "openblas");
	if (s->cal_how[0]) {
		PUT("gemm_calibration: \"");
		for (const char *p = s->cal_how; *p; p++)
			if ((unsigned char)*p < 0x20)
				PUT("?");
			else
				PUT(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
		PUT("\"\n");
	}
	if (s->cfg.gemm == CB_GEMM_AUTO && s->n_cal) {
		PUT("gemm_choices:\n");
		for (int j = 0; j < s->n_cal; j++) {
			const struct cb_cal *c = &s->cal[j];
			PUT("  - {n_out: %lld, n_in: %lld, format: %s, ", (long long)c->n_out,
			    (long long)c->n_in, pb_dtype_name(c->dtype));
			if (c->source != CB_CAL_NONE)
				PUT("tokens: %d, native_gflops: %.2f, openblas_gflops: %.2f, ", CAL_TOKENS,
				    c->native_gflops, c->blas_gflops);
			PUT("chose: %s, source: %s}\n",
			    (c->source != CB_CAL_NONE ? c->native : s->gemm_native) ? "native" : "openblas",
			    src[c->source]);
		}
	}
#undef PUT
	return 0;
}
