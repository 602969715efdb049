/* bench/session.c — bench/tokens' measurement on any model file: one
 * backend session (default cpu-blas with its option defaults), a warm-up
 * prefill, then a prefill of P tokens and D single-token decode steps
 * timed (bench_run), RUNS times; prints the medians and the spread of
 * prefill and decode tokens/s on one line.  bench/run-path.sh and
 * bench/vs-llama.sh set it beside the run path (`prunebench run`,
 * `prunebench generate`) on the same file: the floor the run path is held
 * to.  A benchmark: prints, asserts nothing.
 *
 *     build/bench/session MODEL [-t THREADS] [-r RUNS] [-p P] [-d D]
 *                         [-f TYPE] [-b BACKEND] [-o KEY=VALUE ...] [-g]
 *                         (1 thread, 5 runs, 128, 64)
 *
 * MODEL synth:PRESET is bench/tokens' model: synthesised in memory (seed
 * 1), converted to TYPE (f16, q8_0, q4_0, …) by the core's quantizer as
 * bench/tokens does — the same bytes `prunebench convert synth:PRESET
 * OUT.gguf --type TYPE --seed 1` writes.
 *
 * Output: `session: prefill T tok/s (LO-HI) decode T tok/s (LO-HI) runs N`
 *
 * -g: the run path's loop against the benchmark's in one process, so
 * that where the process landed (which CPU, which physical pages) is the
 * same for both: one backend session, a warm-up, then RUNS rounds of the
 * benchmark's loop (a prefill of P tokens, D steps fed the prompt's
 * tokens) and pb_generate (core/run/generate.c, what `prunebench run`
 * and `generate` call: the same prompt as ids, D + 1 output tokens,
 * greedy) alternated, their order swapped every round.  Prints both
 * medians and the median over rounds of generate / loop.  A model
 * without a tokenizer cannot take -g.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#include "bench-common.h"
#include "model/quant.h"
#include "plugin/registry.h"
#include "run/generate.h"
#include "run/reference.h"
#include "util/util.h"

#define MAX_RUNS 64
#define MAX_OPTS 16

static void usage(void)
{
	fprintf(stderr, "usage: session MODEL [-t THREADS] [-r RUNS 1..%d] [-p PREFILL] [-d DECODE] "
		"[-f TYPE] [-b BACKEND] [-o KEY=VALUE ...] [-g]\n", MAX_RUNS);
}

/* The backend's option defaults with -o KEY=VALUE (and threads) applied:
 * the config a cell or `prunebench generate` would give it. */
static void *config(const struct pb_plugin *p, char **opts, int n)
{
	void *c = calloc(1, p->config_size ? p->config_size : 1);
	char why[256];
	if (!c || (p->options && pb_options_defaults(p->options, c, p->config_size) < 0))
		goto fail;
	for (int i = 0; i < n; i++) {
		char *eq = strchr(opts[i], '=');
		const struct pb_option *o;
		if (!eq) {
			fprintf(stderr, "session: -o %s: expected KEY=VALUE\n", opts[i]);
			goto fail;
		}
		*eq = '\0';
		o = p->options ? pb_option_find(p->options, opts[i]) : NULL;
		if (!o || pb_option_parse(o, c, eq + 1, why, sizeof why) < 0) {
			fprintf(stderr, "session: -o %s=%s: %s\n", opts[i], eq + 1, o ? why : "no such option");
			goto fail;
		}
	}
	return c;
fail:
	free(c);
	return NULL;
}

/* -g: one round of each, on session s; tok/s into pre[2], dec[2]
 * (0: the benchmark's loop, 1: pb_generate). */
static int ab_round(struct pb_session *s, const struct pb_model *m, const int32_t *tok,
		    int n_prefill, int n_decode, float *logits, int swap, double *pre, double *dec)
{
	char err[512];
	for (int k = 0; k < 2; k++) {
		const int which = swap ? 1 - k : k;
		if (which == 0) {
			double ms;
			if (bench_loop(s, tok, n_prefill, n_decode, logits, &ms, &dec[0]) < 0)
				return -1;
			pre[0] = n_prefill * 1000.0 / ms;
		} else {
			const struct pb_gen_request req = { .max_new_tokens = n_decode + 1,
							    .prompt_ids = tok,
							    .n_prompt_ids = n_prefill };
			struct pb_gen_result g;
			if (pb_generate(s, m, pb_model_tokenizer(m), &req, &g, err, sizeof err) < 0) {
				fprintf(stderr, "session: -g: %s\n", err);
				return -1;
			}
			pre[1] = n_prefill * 1000.0 / g.prefill_ms;
			dec[1] = g.n_out > 1 ? (g.n_out - 1) * 1000.0 / (g.e2e_ms - g.ttft_ms) : 0;
			pb_gen_result_free(&g);
		}
	}
	return 0;
}

static int ab(const struct pb_plugin *p, const void *cfg, struct pb_model *m, int runs,
	      int n_prefill, int n_decode)
{
	struct pb_session *s = NULL;
	void *st = NULL;
	int rc = -1;
	int32_t *tok = malloc((size_t)n_prefill * sizeof *tok);
	float *logits = malloc((size_t)m->hp.vocab * sizeof *logits);
	double pre[2][MAX_RUNS], dec[2][MAX_RUNS], ratio[MAX_RUNS], pr[2], dr[2];
	if (!pb_model_tokenizer(m)) {
		fprintf(stderr, "session: -g: the model has no tokenizer\n");
		goto out;
	}
	if (!tok || !logits || bench_open(p, cfg, m, &st, &s) < 0)
		goto out;
	bench_prompt(tok, n_prefill);
	if (ab_round(s, m, tok, n_prefill, n_decode, logits, 0, pr, dr) < 0)   /* warm-up */
		goto out;
	for (int r = 0; r < runs; r++) {
		if (ab_round(s, m, tok, n_prefill, n_decode, logits, r & 1, pr, dr) < 0)
			goto out;
		pre[0][r] = pr[0], pre[1][r] = pr[1], dec[0][r] = dr[0], dec[1][r] = dr[1];
		ratio[r] = dr[1] / dr[0];
	}
	const double rm = bench_median(ratio, runs);
	printf("session -g: loop prefill %.1f decode %.1f tok/s; generate prefill %.1f decode %.1f "
	       "tok/s; decode generate / loop %.3f (%.3f-%.3f) over %d rounds\n",
	       bench_median(pre[0], runs), bench_median(dec[0], runs), bench_median(pre[1], runs),
	       bench_median(dec[1], runs), rm, ratio[0], ratio[runs - 1], runs);
	rc = 0;
out:
	bench_close(p, st, s);
	free(tok);
	free(logits);
	return rc;
}

int main(int argc, char **argv)
{
	const char *backend = "cpu-blas", *type = NULL;
	char *opts[MAX_OPTS + 1], threads[32] = "";
	int n_opts = 0, runs = 5, n_prefill = 128, n_decode = 64, c, gen = 0;
	while ((c = getopt(argc, argv, "t:r:p:d:f:b:o:gh")) != -1) {
		switch (c) {
		case 'g': gen = 1; break;
		case 't': snprintf(threads, sizeof threads, "threads=%d", atoi(optarg)); break;
		case 'r': runs = atoi(optarg); break;
		case 'p': n_prefill = atoi(optarg); break;
		case 'd': n_decode = atoi(optarg); break;
		case 'f': type = optarg; break;
		case 'b': backend = optarg; break;
		case 'o':
			if (n_opts >= MAX_OPTS) {
				fprintf(stderr, "session: more than %d -o options\n", MAX_OPTS);
				return 2;
			}
			opts[n_opts++] = optarg;
			break;
		default: usage(); return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1 || runs < 1 || runs > MAX_RUNS || n_prefill < 1 || n_decode < 1) {
		usage();
		return 2;
	}
	if (threads[0])   /* after any -o threads=, so that it wins */
		opts[n_opts++] = threads;
	const char *path = argv[optind];
	const struct pb_plugin *p = bench_plugin(backend);
	struct pb_model *m = NULL;
	char err[512];
	int rc;
	if (!p)
		return 1;
	if (!strncmp(path, "synth:", 6))
		rc = pb_model_synth(path + 6, 1, &m, err, sizeof err);
	else
		rc = pb_model_load(path, &m, err, sizeof err);
	if (rc == 0 && type) {
		const struct pb_quant_type *q = pb_quant_type_find(type);
		rc = q ? pb_model_quantize(m, q->dtype, q->mix, err, sizeof err) : -1;
		if (!q)
			snprintf(err, sizeof err, "-f %s: one of %s", type, pb_quant_type_names());
	}
	if (rc < 0) {
		fprintf(stderr, "session: %s\n", err);
		pb_model_free(m);
		return 1;
	}
	const struct pb_backend_ops *ops = p->ops;
	void *cfg = config(p, opts, n_opts);
	double pre[MAX_RUNS], dec[MAX_RUNS], lo[2], hi[2];
	char kernel[64] = "";
	rc = 1;
	/* as a cell does: formats the backend lacks go to F32 */
	if (!cfg || pb_convert_for_backend(m, ops->formats) < 0)
		goto out;
	if (n_prefill + n_decode > m->hp.ctx) {
		fprintf(stderr, "session: %d + %d positions exceed the model's context %d\n", n_prefill,
			n_decode, m->hp.ctx);
		goto out;
	}
	if (gen) {
		rc = ab(p, cfg, m, runs, n_prefill, n_decode) < 0;
		goto out;
	}
	for (int r = 0; r < runs; r++) {
		double ms;
		if (bench_run(p, cfg, m, n_prefill, n_decode, &ms, &dec[r], kernel, sizeof kernel) < 0) {
			fprintf(stderr, "session: run %d failed\n", r);
			goto out;
		}
		pre[r] = n_prefill * 1000.0 / ms;
	}
	/* bench_median sorts: the ends are the spread */
	const double pm = bench_median(pre, runs), dm = bench_median(dec, runs);
	lo[0] = pre[0], hi[0] = pre[runs - 1], lo[1] = dec[0], hi[1] = dec[runs - 1];
	printf("session: prefill %.1f tok/s (%.1f-%.1f) decode %.1f tok/s (%.1f-%.1f) runs %d kernel %s\n",
	       pm, lo[0], hi[0], dm, lo[1], hi[1], runs, kernel[0] ? kernel : "?");
	rc = 0;
out:
	free(cfg);
	pb_model_free(m);
	return rc;
}
