/* core/cli/cmd-synth.c — `prunebench synth --preset NAME [--seed N] -o F`:
 * write a synthetic model as GGUF. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "model/modelio.h"
#include "util/util.h"

static void synth_usage(FILE *f)
{
	int n = 0;
	const struct pb_synth_preset *p = pb_synth_presets(&n);
	fprintf(f, "usage: prunebench synth --preset NAME [--seed N] -o FILE.gguf\n\npresets:\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "  %-13s %-6s dim %d, %d layers, %d heads (%d kv) of %d, ffn %d, vocab %d, ctx %d%s\n",
			p[i].name, pb_arch_name(p[i].arch), p[i].hp.dim, p[i].hp.n_layers, p[i].hp.n_heads,
			p[i].hp.n_kv_heads, p[i].hp.head_dim, p[i].hp.ffn_dim, p[i].hp.vocab, p[i].hp.ctx,
			p[i].rope3.original_ctx > 0 ? ", llama3 RoPE scaling" :
			p[i].ap.rope_orig_ctx > 0 ? ", longrope" : "");
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		return -EINVAL;
	*v = x;
	return 0;
}

int pb_cmd_synth(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "preset", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *preset = NULL, *path = NULL;
	uint64_t seed = 0;
	char err[512];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:s:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': preset = optarg; break;
		case 'o': path = optarg; break;
		case 's':
			if (parse_u64(optarg, &seed) < 0) {
				fprintf(stderr, "prunebench synth: --seed: expected a non-negative integer, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h': synth_usage(stdout); return 0;
		default: synth_usage(stderr); return 2;
		}
	}
	if (!preset || !path || optind != argc) {
		fprintf(stderr, "prunebench synth: %s\n", !preset ? "--preset is required" :
			!path ? "-o FILE is required" : "unexpected argument");
		synth_usage(stderr);
		return 2;
	}
	if (!pb_synth_find(preset)) {
		fprintf(stderr, "prunebench synth: unknown preset '%s'\n", preset);
		synth_usage(stderr);
		return 2;
	}
	struct pb_model *m = NULL;
	int rc = pb_model_synth(preset, seed, &m, err, sizeof err);
	if (rc == 0)
		rc = pb_gguf_write(m, path, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "prunebench synth: %s\n", err);
		pb_model_free(m);
		return 1;
	}
	int64_t params = 0, bytes = 0;
	pb_model_count(m, 0, &params, NULL, &bytes);
	pb_log(PB_LOG_INFO, "wrote %s: %s, seed %llu, %lld parameters", path, preset,
	       (unsigned long long)seed, (long long)params);
	pb_model_free(m);
	return 0;
}
