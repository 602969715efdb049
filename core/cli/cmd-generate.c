/* core/cli/cmd-generate.c — `prunebench generate MODEL [--backend NAME]
 * [--prompt TEXT] [-n N] [--seed N] [--threads N] [-o KEY=VALUE]
 * [--warmup N] [--repeat N] [--prompt-tokens N] [--ignore-eos]`: greedy
 * generation with one backend; the text goes to stdout, the timings to
 * stderr — with --repeat, a one-line summary of prefill and decode
 * tokens/s (median, min–max) over the measured runs, as a timing tool for
 * one model without an experiment (bench/vs-llama.sh sets it beside
 * llama-bench: --prompt-tokens and --ignore-eos give llama-bench's fixed
 * prompt and output lengths). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "cli/cli.h"
#include "model/modelio.h"
#include "plugin/host.h"
#include "plugin/registry.h"
#include "run/generate.h"
#include "run/reference.h"
#include "text/text.h"
#include "util/util.h"

static void generate_usage(FILE *f)
{
	fprintf(f, "usage: prunebench generate MODEL [--backend NAME] [--prompt TEXT] [-n N] [--seed N] [--ctx N]\n"
		"                           [--threads N] [-o KEY=VALUE ...] [--warmup N] [--repeat N]\n"
		"                           [--prompt-tokens N] [--ignore-eos]\n"
		"\n"
		"  MODEL           a GGUF file, or synth:PRESET (e.g. synth:llama-15m)\n"
		"  --backend NAME  backend plugin (default ref)\n"
		"  --prompt TEXT   prompt (default \"Once upon a time\")\n"
		"  -n N            tokens to generate (default 32)\n"
		"  --seed N        seed for synthetic weights and the backend (default 0)\n"
		"  --ctx N         positions the session holds (default: the model's, at most %d)\n"
		"  --threads N     the backend's 'threads' option (as -o threads=N)\n"
		"  -o KEY=VALUE    a backend option ('prunebench plugins NAME' lists them)\n"
		"  --warmup N      untimed generations first (default 0)\n"
		"  --repeat N      timed generations (default 1); the text printed is the first's,\n"
		"                  and a summary line gives prefill/decode tok/s: median, min-max\n"
		"  --prompt-tokens N  instead of --prompt: N token ids (BOS, then a fixed pseudo-random\n"
		"                  sequence over the vocabulary, as llama-bench's -p N builds its prompt)\n"
		"  --ignore-eos    generate all -n tokens even past the model's EOS\n"
		"  --tokenizer-pre NAME  force a GGUF vocabulary's pre-tokenizer: %s\n", PB_CTX_DEFAULT, pb_tokenizer_pre_names());
}

#define MAX_OPTS 32

struct gen_args {
	const char *backend, *prompt;
	uint64_t seed;
	int n_new, warmup, repeat;
	int prompt_tokens;    /* > 0: a synthetic prompt of that many ids */
	int ignore_eos;
	const char *opts[MAX_OPTS + 1];   /* -o KEY=VALUE, --threads as threads=N */
	int n_opts;
	char threads_opt[32];
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* median, min and max of v[0..n), sorted in place */
static void spread(double *v, int n, double *med, double *lo, double *hi)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*lo = v[0];
	*hi = v[n - 1];
}

/* llama-bench's prompt: BOS (where the vocabulary has one) and then
 * pseudo-random ids; ours come from a fixed LCG over the live vocabulary,
 * so that every run and every backend gets the same prompt.  NULL when
 * out of memory. */
static int32_t *synthetic_prompt(const struct pb_model *m, int n)
{
	const int live = pb_model_live_vocab(m, pb_model_tokenizer(m));
	int32_t *ids = malloc((size_t)n * sizeof *ids);
	uint64_t x = 0x9e3779b97f4a7c15u;
	if (!ids)
		return NULL;
	for (int i = 0; i < n; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		ids[i] = (int32_t)((x >> 33) % (uint64_t)(live > 0 ? live : 1));
	}
	if (m->hp.bos_id >= 0)
		ids[0] = m->hp.bos_id;
	return ids;
}

/* Load the backend, hand it the weights and open a session. */
static int run(struct pb_model *m, const struct gen_args *a)
{
	const char *backend = a->backend;
	struct pb_registry *reg = pb_cli_registry();
	const struct pb_plugin_entry *e = reg ? pb_registry_find(reg, PB_BACKEND, backend) : NULL;
	struct pb_host_ctx hc;
	struct pb_session *s = NULL;
	struct pb_gen_result res;
	void *state = NULL, *config = NULL;
	int32_t *ids = NULL;
	char err[512];
	int rc = 1;

	if (!e) {
		const struct pb_plugin_failure *f = reg ? pb_registry_failure(reg, PB_BACKEND, backend) : NULL;
		if (f)
			fprintf(stderr, "prunebench generate: backend '%s' failed to load: %s\n", backend, f->why);
		else
			fprintf(stderr, "prunebench generate: no backend '%s' (see 'prunebench plugins')\n", backend);
		return 1;
	}
	const struct pb_plugin *p = e->desc;
	const struct pb_backend_ops *ops = p->ops;
	if (pb_backend_is_remote(ops)) {
		fprintf(stderr, "prunebench generate: backend '%s' is remote (it sends requests to a "
			"server) and runs no model here; use a local backend (ref, cpu-blas), or an "
			"experiment to measure the server\n", backend);
		return 1;
	}
	pb_host_init(&hc, p->name, a->seed, 0);
	config = calloc(1, p->config_size ? p->config_size : 1);
	if (!config) {
		fprintf(stderr, "prunebench generate: out of memory\n");
		goto out;
	}
	if ((rc = pb_cli_backend_config("generate", p, a->opts, a->n_opts, config)) != 0)
		goto out;
	rc = 1;
	if (p->available && pb_plugin_available(p, &hc.host, err, sizeof err) < 0) {
		fprintf(stderr, "prunebench generate: backend '%s': %s\n", backend, err);
		goto out;
	}
	if (p->init(&hc.host, config, &state) < 0) {
		fprintf(stderr, "prunebench generate: backend '%s' failed to start\n", backend);
		state = NULL;
		goto out;
	}
	/* as a cell does: formats the backend lacks (the k-quants on
	 * cpu-blas or vulkan) go to F32, saying so */
	if (pb_convert_for_backend(m, ops->formats) < 0) {
		fprintf(stderr, "prunebench generate: backend '%s' runs none of the weight formats of %s\n",
			backend, m->name);
		goto out;
	}
	if (ops->weights_load(state, m) < 0) {
		fprintf(stderr, "prunebench generate: backend '%s' cannot load the weights of %s\n",
			backend, m->name);
		goto out;
	}
	if (pb_session_open(m, ops, state, &s, err, sizeof err) < 0) {
		fprintf(stderr, "prunebench generate: %s\n", err);
		goto out;
	}
	struct pb_gen_request req = {
		.prompt = a->prompt, .max_new_tokens = a->n_new, .stop_at_eos = !a->ignore_eos, .add_bos = 1,
	};
	if (a->prompt_tokens > 0) {
		if (!(ids = synthetic_prompt(m, a->prompt_tokens))) {
			fprintf(stderr, "prunebench generate: out of memory\n");
			goto out;
		}
		req.prompt_ids = ids;
		req.n_prompt_ids = a->prompt_tokens;
	}
	double *pre = calloc((size_t)a->repeat, sizeof *pre), *dec = calloc((size_t)a->repeat, sizeof *dec);
	int n_dec = 0;
	if (!pre || !dec) {
		fprintf(stderr, "prunebench generate: out of memory\n");
		free(pre);
		free(dec);
		goto out;
	}
	for (int i = 0; i < a->warmup + a->repeat; i++) {
		if (pb_generate(s, m, pb_model_tokenizer(m), &req, &res, err, sizeof err) < 0) {
			fprintf(stderr, "prunebench generate: %s\n", err);
			free(pre);
			free(dec);
			goto out;
		}
		const int k = i - a->warmup;
		double decode_ms = res.e2e_ms - res.ttft_ms;
		if (k >= 0) {
			pre[k] = res.prefill_ms > 0 ? res.n_prompt / (res.prefill_ms / 1e3) : 0.0;
			if (res.n_out > 1 && decode_ms > 0)
				dec[n_dec++] = (res.n_out - 1) / (decode_ms / 1e3);
		}
		if (k == 0) {
			double tpot = res.n_out > 1 ? decode_ms / (res.n_out - 1) : 0.0;
			printf("%s\n", res.text);
			fflush(stdout);
			fprintf(stderr, "prompt tokens   %d%s\n", res.n_prompt, res.truncated ? " (truncated)" : "");
			fprintf(stderr, "output tokens   %d\n", res.n_out);
			fprintf(stderr, "TTFT            %.2f ms\n", res.ttft_ms);
			fprintf(stderr, "TPOT            %.2f ms\n", tpot);
			fprintf(stderr, "prefill         %.1f tok/s\n", pre[0]);
			fprintf(stderr, "decode          %.1f tok/s\n",
				decode_ms > 0 ? (res.n_out - 1) / (decode_ms / 1e3) : 0.0);
		}
		pb_gen_result_free(&res);
	}
	if (a->repeat > 1 || a->warmup > 0) {
		double pm, plo, phi, dm = 0, dlo = 0, dhi = 0;
		spread(pre, a->repeat, &pm, &plo, &phi);
		if (n_dec)
			spread(dec, n_dec, &dm, &dlo, &dhi);
		fprintf(stderr,
			"summary: %s on %s, %d runs after %d warm-up: prefill %.1f tok/s (%.1f-%.1f, %.0f %%), "
			"decode %.1f tok/s (%.1f-%.1f, %.0f %%)\n",
			backend, m->name, a->repeat, a->warmup, pm, plo, phi, pm > 0 ? 100 * (phi - plo) / pm : 0.0,
			dm, dlo, dhi, dm > 0 ? 100 * (dhi - dlo) / dm : 0.0);
	}
	free(pre);
	free(dec);
	rc = 0;
out:
	pb_session_close(s);
	if (state)
		p->fini(state);
	free(config);
	free(ids);
	return rc;
}

int pb_cmd_generate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "prompt", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ "tokenizer-pre", required_argument, NULL, 'P' },
		{ "ctx", required_argument, NULL, 'C' },
		{ "threads", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "repeat", required_argument, NULL, 'R' },
		{ "prompt-tokens", required_argument, NULL, 'T' },
		{ "ignore-eos", no_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *backend = "ref", *prompt = "Once upon a time", *pre = NULL;
	long long n_new = 32, seed = 0, ctx = 0, threads = 0, warmup = 0, repeat = 1, prompt_tokens = 0;
	struct gen_args a = { 0 };
	char err[512];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "b:p:n:s:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': backend = optarg; break;
		case 'p': prompt = optarg; break;
		case 'P': pre = optarg; break;
		case 'o':
			if (a.n_opts >= MAX_OPTS) {
				fprintf(stderr, "prunebench generate: more than %d -o options\n", MAX_OPTS);
				return 2;
			}
			a.opts[a.n_opts++] = optarg;
			break;
		case 't':
			if (pb_cli_parse_int(optarg, 1, 4096, &threads) < 0) {
				fprintf(stderr, "prunebench generate: --threads: expected 1 to 4096, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'W':
			if (pb_cli_parse_int(optarg, 0, 1000, &warmup) < 0) {
				fprintf(stderr, "prunebench generate: --warmup: expected 0 to 1000, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'R':
			if (pb_cli_parse_int(optarg, 1, 10000, &repeat) < 0) {
				fprintf(stderr, "prunebench generate: --repeat: expected 1 to 10000, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'T':
			if (pb_cli_parse_int(optarg, 1, 1 << 20, &prompt_tokens) < 0) {
				fprintf(stderr, "prunebench generate: --prompt-tokens: expected a positive integer, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'E': a.ignore_eos = 1; break;
		case 'C':
			if (pb_cli_parse_int(optarg, 1, 1 << 20, &ctx) < 0) {
				fprintf(stderr, "prunebench generate: --ctx: expected a positive integer, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			if (pb_cli_parse_int(optarg, 1, 1 << 20, &n_new) < 0) {
				fprintf(stderr, "prunebench generate: -n: expected a positive integer, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 's':
			if (pb_cli_parse_int(optarg, 0, INT64_MAX, &seed) < 0) {
				fprintf(stderr, "prunebench generate: --seed: expected a non-negative integer, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h': generate_usage(stdout); return 0;
		default: generate_usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "prunebench generate: expected one MODEL\n");
		generate_usage(stderr);
		return 2;
	}
	const char *model = argv[optind];
	struct pb_model *m = NULL;
	int rc;
	double t0 = pb_now_ms();
	if (!strncmp(model, "synth:", 6))
		rc = pb_model_synth(model + 6, (uint64_t)seed, &m, err, sizeof err);
	else
		rc = pb_model_load_pre(model, NULL, pre, &m, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "prunebench generate: %s\n", err);
		return 1;
	}
	if (ctx > 0 && pb_model_set_ctx(m, (int)ctx, err, sizeof err) < 0) {
		fprintf(stderr, "prunebench generate: --ctx: %s\n", err);
		pb_model_free(m);
		return 2;
	}
	pb_log(PB_LOG_INFO, "loaded %s in %.0f ms", m->name, pb_now_ms() - t0);
	a.backend = backend;
	a.prompt = prompt;
	a.seed = (uint64_t)seed;
	a.n_new = (int)n_new;
	a.warmup = (int)warmup;
	a.repeat = (int)repeat;
	a.prompt_tokens = (int)prompt_tokens;
	if (threads > 0) {   /* after any -o threads=, so that it wins */
		snprintf(a.threads_opt, sizeof a.threads_opt, "threads=%lld", threads);
		a.opts[a.n_opts++] = a.threads_opt;
	}
	rc = run(m, &a);
	pb_model_free(m);
	return rc;
}
