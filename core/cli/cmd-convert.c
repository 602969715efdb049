/* core/cli/cmd-convert.c — `prunebench convert IN OUT.gguf [--type T]`:
 * any model prunebench reads (GGUF, a Hugging Face folder, a llama2.c
 * checkpoint, synth:NAME) written as a GGUF v3 file llama.cpp loads, in
 * one storage type or one of llama-quantize's k-quant mixes (see
 * pb_quant_plan in model/quant.h for which tensor takes what). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "text/text.h"
#include "util/util.h"

static void convert_usage(FILE *f)
{
	fprintf(f, "usage: prunebench convert IN OUT.gguf [--type T] [--tokenizer FILE] [--seed N]\n\n"
		   "IN: a GGUF file, a Hugging Face folder, a llama2.c .bin or synth:PRESET.\n"
		   "--type: storage of the 2-D weights (default: as loaded): %s.\n"
		   "        Norms stay F32; q4_0 keeps an untied output at Q8_0; the k-quants give\n"
		   "        the output (or a tied embedding) Q6_K as llama-quantize does, and\n"
		   "        q4_k_m, q5_k_m give Q6_K to llama.cpp's choice of attn_v and ffn_down\n"
		   "        layers.  Rows that are not whole blocks fall back: q8_0, q4_0 to F16;\n"
		   "        q2_k, q3_k to Q4_0; q4_k, q5_k, q6_k to Q8_0 (llama.cpp: Q5_0, Q5_1, Q8_0).\n"
		   "--tokenizer-pre NAME: force a GGUF vocabulary's pre-tokenizer (written to OUT's\n"
		   "        tokenizer.ggml.pre): %s\n", pb_quant_type_names(), pb_tokenizer_pre_names());
}

int pb_cmd_convert(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "tokenizer", required_argument, NULL, 'k' },
		{ "tokenizer-pre", required_argument, NULL, 'P' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tok = NULL, *pre = NULL;
	const struct pb_quant_type *type = NULL;
	int c;
	unsigned long long seed = 0;
	char err[1024], *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:k:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (!(type = pb_quant_type_find(optarg))) {
				fprintf(stderr, "prunebench convert: --type: unknown type '%s' (%s)\n", optarg,
					pb_quant_type_names());
				return 2;
			}
			break;
		case 'k': tok = optarg; break;
		case 'P': pre = optarg; break;
		case 's':
			errno = 0;
			seed = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || optarg[0] == '-') {
				fprintf(stderr, "prunebench convert: --seed: expected a non-negative integer, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h': convert_usage(stdout); return 0;
		default: convert_usage(stderr); return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "prunebench convert: expected IN and OUT.gguf\n");
		convert_usage(stderr);
		return 2;
	}
	const char *in = argv[optind], *out = argv[optind + 1];
	struct pb_model *m = NULL;
	int rc;
	double t0 = pb_now_ms();
	if (!strncmp(in, "synth:", 6))
		rc = pb_model_synth(in + 6, (uint64_t)seed, &m, err, sizeof err);
	else
		rc = pb_model_load_pre(in, tok, pre, &m, err, sizeof err);
	if (rc == 0 && type)
		rc = pb_model_quantize(m, type->dtype, type->mix, err, sizeof err);
	if (rc == 0)
		rc = pb_gguf_write(m, out, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "prunebench convert: %s\n", err);
		pb_model_free(m);
		return 1;
	}
	int64_t params = 0, bytes = 0;
	pb_model_count(m, 0, &params, NULL, &bytes);
	pb_log(PB_LOG_INFO, "wrote %s: %s, %lld parameters, %.1f MiB of weights, in %.0f ms", out, m->name,
	       (long long)params, (double)bytes / (1 << 20), pb_now_ms() - t0);
	pb_model_free(m);
	return 0;
}
