/* core/cli/cmd-generate.c — `prunebench generate MODEL [--backend NAME]
 * [--prompt TEXT] [-n N] [--seed N]`: greedy generation with one backend;
 * the text goes to stdout, the timings to stderr. */
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
		"\n"
		"  MODEL           a GGUF file, or synth:PRESET (e.g. synth:llama-15m)\n"
		"  --backend NAME  backend plugin (default ref)\n"
		"  --prompt TEXT   prompt (default \"Once upon a time\")\n"
		"  -n N            tokens to generate (default 32)\n"
		"  --seed N        seed for synthetic weights and the backend (default 0)\n"
		"  --ctx N         positions the session holds (default: the model's, at most %d)\n"
		"  --tokenizer-pre NAME  force a GGUF vocabulary's pre-tokenizer: %s\n", PB_CTX_DEFAULT, pb_tokenizer_pre_names());
}

static int parse_int(const char *s, long long lo, long long hi, long long *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 0);
	if (errno || end == s || *end || x < lo || x > hi)
		return -EINVAL;
	*v = x;
	return 0;
}

/* Load the backend, hand it the weights and open a session. */
static int run(struct pb_model *m, const char *backend, uint64_t seed,
	       const char *prompt, int n_new)
{
	struct pb_registry *reg = pb_cli_registry();
	const struct pb_plugin_entry *e = reg ? pb_registry_find(reg, PB_BACKEND, backend) : NULL;
	struct pb_host_ctx hc;
	struct pb_session *s = NULL;
	struct pb_gen_result res;
	void *state = NULL, *config = NULL;
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
	pb_host_init(&hc, p->name, seed, 0);
	config = calloc(1, p->config_size ? p->config_size : 1);
	if (!config || (p->options && pb_options_defaults(p->options, config, p->config_size) < 0)) {
		fprintf(stderr, "prunebench generate: backend '%s': cannot set its default options\n", backend);
		goto out;
	}
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
		.prompt = prompt, .max_new_tokens = n_new, .stop_at_eos = 1, .add_bos = 1,
	};
	if (pb_generate(s, m, pb_model_tokenizer(m), &req, &res, err, sizeof err) < 0) {
		fprintf(stderr, "prunebench generate: %s\n", err);
		goto out;
	}
	printf("%s\n", res.text);
	fflush(stdout);
	double decode_ms = res.e2e_ms - res.ttft_ms;
	double tpot = res.n_out > 1 ? decode_ms / (res.n_out - 1) : 0.0;
	fprintf(stderr, "prompt tokens   %d%s\n", res.n_prompt, res.truncated ? " (truncated)" : "");
	fprintf(stderr, "output tokens   %d\n", res.n_out);
	fprintf(stderr, "TTFT            %.2f ms\n", res.ttft_ms);
	fprintf(stderr, "TPOT            %.2f ms\n", tpot);
	fprintf(stderr, "prefill         %.1f tok/s\n",
		res.prefill_ms > 0 ? res.n_prompt / (res.prefill_ms / 1e3) : 0.0);
	fprintf(stderr, "decode          %.1f tok/s\n",
		decode_ms > 0 ? (res.n_out - 1) / (decode_ms / 1e3) : 0.0);
	pb_gen_result_free(&res);
	rc = 0;
out:
	pb_session_close(s);
	if (state)
		p->fini(state);
	free(config);
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *backend = "ref", *prompt = "Once upon a time", *pre = NULL;
	long long n_new = 32, seed = 0, ctx = 0;
	char err[512];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "b:p:n:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': backend = optarg; break;
		case 'p': prompt = optarg; break;
		case 'P': pre = optarg; break;
		case 'C':
			if (parse_int(optarg, 1, 1 << 20, &ctx) < 0) {
				fprintf(stderr, "prunebench generate: --ctx: expected a positive integer, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			if (parse_int(optarg, 1, 1 << 20, &n_new) < 0) {
				fprintf(stderr, "prunebench generate: -n: expected a positive integer, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 's':
			if (parse_int(optarg, 0, INT64_MAX, &seed) < 0) {
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
	rc = run(m, backend, (uint64_t)seed, prompt, (int)n_new);
	pb_model_free(m);
	return rc;
}
