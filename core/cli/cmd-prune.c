/* core/cli/cmd-prune.c — `prunebench prune MODEL -p 'NAME key=value ...'
 * ... -o OUT.gguf`: run a chain of compression steps on one model outside
 * any experiment and write the result as GGUF v3.  Each -p is parsed
 * through the plugin's option table, as an experiment's chain entry would
 * be; pruners that calibrate read --data (a text, prompts, JSONL or CSV
 * file, by its extension).  Per step: time, linear sparsity and bytes
 * before → after, on stdout. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/steps.h"
#include "model/modelio.h"
#include "util/util.h"

struct prune_args {
	const char *model, *out;
	struct pb_cli_chain chain;
};

static void prune_usage(FILE *f)
{
	fprintf(f, "usage: prunebench prune MODEL -p 'NAME key=value ...' [-p ...] -o OUT.gguf\n"
		"                        [--data FILE] [--nsamples N] [--seqlen L] [--seed S]\n"
		"\n"
		"  MODEL         a GGUF file, a Hugging Face folder, a llama2.c .bin, or synth:PRESET\n"
		"  -p STEP       a compression step: a pruner's name and its options, applied in order\n"
		"                (e.g. -p 'wanda sparsity=0.5' -p 'quant type=q8_0'; 'prunebench plugins NAME')\n"
		"  -o OUT.gguf   where to write the compressed model (GGUF v3)\n"
		"  --data FILE   calibration text for pruners that need it (.raw text, .jsonl, .csv;\n"
		"                other files: one prompt per line)\n"
		"  --nsamples N  calibration windows (default: the pruner's, else 32; a step's own\n"
		"                nsamples=N wins)\n"
		"  --seqlen L    tokens per window (default: the pruner's, else 128; at most the\n"
		"                model's context)\n"
		"  --seed S      seed of synthetic weights and of the pruners (default 0)\n");
}

static int parse_args(int argc, char **argv, struct prune_args *a)
{
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "nsamples", required_argument, NULL, 'N' },
		{ "seqlen", required_argument, NULL, 'L' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:o:d:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if ((rc = pb_cli_chain_add(&a->chain, optarg)) != 0)
				return rc;
			break;
		case 'o': a->out = optarg; break;
		case 'd': a->chain.data = optarg; break;
		case 'N':
		case 'L':
			if (pb_cli_parse_int(optarg, 1, 1 << 20, c == 'N' ? &a->chain.nsamples : &a->chain.seqlen) < 0) {
				fprintf(stderr, "prunebench prune: --%s: expected a positive integer, got '%s'\n",
					c == 'N' ? "nsamples" : "seqlen", optarg);
				return 2;
			}
			break;
		case 's':
			if (pb_cli_parse_int(optarg, 0, INT64_MAX, &a->chain.seed) < 0) {
				fprintf(stderr, "prunebench prune: --seed: expected a non-negative integer, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h': prune_usage(stdout); return -1;
		default: prune_usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || !a->chain.n_steps || !a->out) {
		fprintf(stderr, "prunebench prune: expected one MODEL, at least one -p STEP and -o OUT.gguf\n");
		prune_usage(stderr);
		return 2;
	}
	a->model = argv[optind];
	return 0;
}

int pb_cmd_prune(int argc, char **argv)
{
	struct prune_args a = { .chain = { .cmd = "prune", .report = stdout } };
	struct pb_model *m = NULL;
	char err[1024];
	int rc = parse_args(argc, argv, &a);
	if (rc) {
		rc = rc < 0 ? 0 : rc;
		goto out;
	}
	if ((rc = pb_cli_chain_check(&a.chain)) != 0)
		goto out;
	if (!strncmp(a.model, "synth:", 6))
		rc = pb_model_synth(a.model + 6, (uint64_t)a.chain.seed, &m, err, sizeof err);
	else
		rc = pb_model_load(a.model, &m, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "prunebench prune: %s\n", err);
		rc = 1;
		goto out;
	}
	if ((rc = pb_cli_chain_run(&a.chain, m)) != 0)
		goto out;
	double t0 = pb_now_ms();
	if (pb_gguf_write(m, a.out, err, sizeof err) < 0) {
		fprintf(stderr, "prunebench prune: %s\n", err);
		rc = 1;
		goto out;
	}
	int64_t bytes;
	double sp = pb_cli_sparsity_pct(m, &bytes);
	printf("wrote %s: linear sparsity %.2f%%, %lld bytes of weights (%.1f ms)\n", a.out, sp,
	       (long long)bytes, pb_now_ms() - t0);
	rc = 0;
out:
	pb_cli_chain_free(&a.chain);
	pb_model_free(m);
	return rc;
}
