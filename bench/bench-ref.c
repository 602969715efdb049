/* bench/bench-ref.c — tokens/s of the ref backend on a synthetic model
 * (default llama-15m): one prefill of P tokens, then D decode steps, best
 * of R repeats.  A benchmark, not a test: it prints and asserts nothing.
 *
 *     build/bench/bench-ref [PRESET] [P] [D] [R]
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "arch/arch.h"
#include "model/modelio.h"
#include "util/util.h"

extern const struct pb_plugin pb_plugin;   /* ref.c, linked in */

static void host_log(const struct pb_host *h, enum pb_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	(void)h;
	va_start(ap, fmt);
	pb_logv(lvl, "ref", fmt, ap);
	va_end(ap);
}

int main(int argc, char **argv)
{
	const char *preset = argc > 1 ? argv[1] : "llama-15m";
	int n_prefill = argc > 2 ? atoi(argv[2]) : 64, n_decode = argc > 3 ? atoi(argv[3]) : 64;
	int repeats = argc > 4 ? atoi(argv[4]) : 3;
	const struct pb_host host = {
		.abi_version = PB_ABI_VERSION, .struct_size = sizeof host, .log = host_log,
	};
	const struct pb_backend_ops *ops = pb_plugin.ops;
	struct pb_model *m = NULL;
	struct pb_session *s = NULL;
	void *state = NULL;
	char err[512];
	int cfg = 0, rc = 1;

	if (pb_model_synth(preset, 1, &m, err, sizeof err) < 0 ||
	    n_prefill < 1 || n_decode < 0 || repeats < 1 ||
	    n_prefill + n_decode > m->hp.ctx) {
		fprintf(stderr, "bench-ref: %s\n", m ? "prefill + decode must fit the context" : err);
		goto out;
	}
	if (pb_plugin.init(&host, &cfg, &state) < 0 || ops->weights_load(state, m) < 0 ||
	    pb_session_open(m, ops, state, &s, err, sizeof err) < 0) {
		fprintf(stderr, "bench-ref: cannot start the ref backend: %s\n", err);
		goto out;
	}
	int32_t *tokens = malloc((size_t)n_prefill * sizeof *tokens);
	float *logits = malloc((size_t)m->hp.vocab * sizeof *logits);
	for (int i = 0; i < n_prefill; i++)
		tokens[i] = 3 + 'a' + i % 26;
	double best_p = 1e30, best_d = 1e30;
	for (int r = 0; r < repeats; r++) {
		double t0 = pb_now_ms();
		pb_session_forward(s, tokens, n_prefill, 0, logits);
		double t1 = pb_now_ms();
		for (int i = 0; i < n_decode; i++)
			pb_session_forward(s, &tokens[i % n_prefill], 1, n_prefill + i, logits);
		double t2 = pb_now_ms();
		best_p = t1 - t0 < best_p ? t1 - t0 : best_p;
		best_d = t2 - t1 < best_d ? t2 - t1 : best_d;
	}
	printf("%s on ref: prefill %d tokens %.1f ms (%.1f tok/s), decode %d tokens %.1f ms (%.1f tok/s)\n",
	       preset, n_prefill, best_p, n_prefill / (best_p / 1e3), n_decode, best_d,
	       n_decode ? n_decode / (best_d / 1e3) : 0.0);
	free(tokens);
	free(logits);
	rc = 0;
out:
	pb_session_close(s);
	if (state)
		pb_plugin.fini(state);
	pb_model_free(m);
	return rc;
}
