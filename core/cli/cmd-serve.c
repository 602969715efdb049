/* core/cli/cmd-serve.c — `prunebench serve MODEL [-p STEP ...] [--backend B]
 * [-o KEY=VALUE ...] [--host H] [--port P]`: load a model, compress it with
 * a chain of steps as `prune` does, open a session on one backend as
 * `generate` does, and serve it over OpenAI's HTTP API (core/serve) until
 * SIGINT or SIGTERM.  stdout gets one line, "listening on http://H:P";
 * the step reports and the log go to stderr. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "cli/cli.h"
#include "cli/steps.h"
#include "model/modelio.h"
#include "plugin/host.h"
#include "plugin/registry.h"
#include "run/reference.h"
#include "serve/serve.h"
#include "text/text.h"
#include "util/util.h"

#define MAX_BACKEND_OPTS 32

struct serve_args {
	const char *model, *backend, *pre;
	const char *opts[MAX_BACKEND_OPTS];   /* -o KEY=VALUE */
	int n_opts;
	long long ctx;
	struct pb_serve_opts serve;
	struct pb_cli_chain chain;
};

static void serve_usage(FILE *f)
{
	fprintf(f, "usage: prunebench serve MODEL [-p STEP ...] [--backend NAME] [-o KEY=VALUE ...]\n"
		"                        [--host H] [--port P] [--ctx N] [--max-body BYTES]\n"
		"                        [--chat-template NAME] [--data FILE] [--seed S]\n"
		"\n"
		"  MODEL           a GGUF file, a Hugging Face folder, a llama2.c .bin, or synth:PRESET\n"
		"  -p STEP         a compression step, as 'prunebench prune' takes it (e.g. -p 'wanda\n"
		"                  sparsity=0.5' -p 'quant type=q8_0'), applied in order before serving\n"
		"  --data FILE     calibration text for steps that need it (--nsamples N, --seqlen L)\n"
		"  --backend NAME  backend plugin (default ref)\n"
		"  -o KEY=VALUE    a backend option ('prunebench plugins NAME' lists them)\n"
		"  --host H        address to listen on (default 127.0.0.1)\n"
		"  --port P        port (default 8080; 0: a free one, said on stdout)\n"
		"  --ctx N         positions the session holds (default: the model's, at most %d)\n"
		"  --max-body B    largest request body in bytes (default %u)\n"
		"  --chat-template NAME  plain, llama3, chatml, gemma or phi3 (default: by the vocabulary)\n"
		"  --seed S        seed of synthetic weights, the pruners and the backend (default 0)\n"
		"  --tokenizer-pre NAME  force a GGUF vocabulary's pre-tokenizer\n"
		"\n"
		"Endpoints: POST /v1/completions, POST /v1/chat/completions (stream or not),\n"
		"GET /v1/models, GET /health.  Greedy decoding, one request at a time.\n"
		"Prints 'listening on http://HOST:PORT' on stdout; SIGTERM or SIGINT stop it.\n",
		PB_CTX_DEFAULT, PB_SERVE_MAX_BODY_DEFAULT);
}

static int parse_args(int argc, char **argv, struct serve_args *a)
{
	enum { O_HOST = 256, O_PORT, O_CTX, O_MAX_BODY, O_TEMPLATE, O_DATA, O_NSAMPLES, O_SEQLEN,
	       O_SEED, O_PRE };
	static const struct option longopts[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, O_PORT },
		{ "ctx", required_argument, NULL, O_CTX },
		{ "max-body", required_argument, NULL, O_MAX_BODY },
		{ "chat-template", required_argument, NULL, O_TEMPLATE },
		{ "data", required_argument, NULL, O_DATA },
		{ "nsamples", required_argument, NULL, O_NSAMPLES },
		{ "seqlen", required_argument, NULL, O_SEQLEN },
		{ "seed", required_argument, NULL, O_SEED },
		{ "tokenizer-pre", required_argument, NULL, O_PRE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long v;
	int c, rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:b:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if ((rc = pb_cli_chain_add(&a->chain, optarg)) != 0)
				return rc;
			break;
		case 'b': a->backend = optarg; break;
		case 'o':
			if (a->n_opts == MAX_BACKEND_OPTS) {
				fprintf(stderr, "prunebench serve: at most %d -o options\n", MAX_BACKEND_OPTS);
				return 2;
			}
			a->opts[a->n_opts++] = optarg;
			break;
		case O_HOST: a->serve.host = optarg; break;
		case O_TEMPLATE: a->serve.chat_template = optarg; break;
		case O_DATA: a->chain.data = optarg; break;
		case O_PRE: a->pre = optarg; break;
		case O_PORT:
		case O_CTX:
		case O_MAX_BODY:
		case O_NSAMPLES:
		case O_SEQLEN:
		case O_SEED: {
			static const struct { int opt; const char *name; long long lo, hi; } lim[] = {
				{ O_PORT, "port", 0, 65535 }, { O_CTX, "ctx", 1, 1 << 20 },
				{ O_MAX_BODY, "max-body", 1, 1LL << 32 }, { O_NSAMPLES, "nsamples", 1, 1 << 20 },
				{ O_SEQLEN, "seqlen", 1, 1 << 20 }, { O_SEED, "seed", 0, INT64_MAX },
			};
			size_t i = 0;
			while (lim[i].opt != c)
				i++;
			if (pb_cli_parse_int(optarg, lim[i].lo, lim[i].hi, &v) < 0) {
				fprintf(stderr, "prunebench serve: --%s: expected an integer from %lld to %lld, got '%s'\n",
					lim[i].name, lim[i].lo, lim[i].hi, optarg);
				return 2;
			}
			if (c == O_PORT) a->serve.port = (int)v;
			if (c == O_CTX) a->ctx = v;
			if (c == O_MAX_BODY) a->serve.max_body = (size_t)v;
			if (c == O_NSAMPLES) a->chain.nsamples = v;
			if (c == O_SEQLEN) a->chain.seqlen = v;
			if (c == O_SEED) a->chain.seed = v;
			break;
		}
		case 'h': serve_usage(stdout); return -1;
		default: serve_usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "prunebench serve: expected one MODEL\n");
		serve_usage(stderr);
		return 2;
	}
	a->model = argv[optind];
	return 0;
}

/* Was SIGTERM or SIGINT sent while we loaded (they are blocked)? */
static int stop_pending(void)
{
	sigset_t s;
	return sigpending(&s) == 0 && (sigismember(&s, SIGTERM) || sigismember(&s, SIGINT));
}

/* Backend up, weights in, session open, then serve until a signal. */
static int serve(struct serve_args *a, struct pb_model *m)
{
	struct pb_registry *reg = pb_cli_registry();
	const struct pb_plugin_entry *e = reg ? pb_registry_find(reg, PB_BACKEND, a->backend) : NULL;
	struct pb_host_ctx hc;
	struct pb_session *s = NULL;
	void *state = NULL, *config = NULL;
	char err[512];
	int rc = 1;

	if (!e) {
		const struct pb_plugin_failure *f = reg ? pb_registry_failure(reg, PB_BACKEND, a->backend) : NULL;
		if (f)
			fprintf(stderr, "prunebench serve: backend '%s' failed to load: %s\n", a->backend, f->why);
		else
			fprintf(stderr, "prunebench serve: no backend '%s' (see 'prunebench plugins')\n", a->backend);
		return 1;
	}
	const struct pb_plugin *p = e->desc;
	const struct pb_backend_ops *ops = p->ops;
	pb_host_init(&hc, p->name, (uint64_t)a->chain.seed, 0);
	if (!(config = calloc(1, p->config_size ? p->config_size : 1)))
		goto out;
	if ((rc = pb_cli_backend_config("serve", p, a->opts, a->n_opts, config)) != 0)
		goto out;
	rc = 1;
	if (p->available && pb_plugin_available(p, &hc.host, err, sizeof err) < 0) {
		fprintf(stderr, "prunebench serve: backend '%s': %s\n", a->backend, err);
		goto out;
	}
	if (p->init(&hc.host, config, &state) < 0) {
		fprintf(stderr, "prunebench serve: backend '%s' failed to start\n", a->backend);
		state = NULL;
		goto out;
	}
	if (pb_convert_for_backend(m, ops->formats) < 0) {
		fprintf(stderr, "prunebench serve: backend '%s' runs none of the weight formats of %s\n",
			a->backend, m->name);
		goto out;
	}
	if (ops->weights_load(state, m) < 0) {
		fprintf(stderr, "prunebench serve: backend '%s' cannot load the weights of %s\n",
			a->backend, m->name);
		goto out;
	}
	if (pb_session_open(m, ops, state, &s, err, sizeof err) < 0) {
		fprintf(stderr, "prunebench serve: %s\n", err);
		goto out;
	}
	if (stop_pending()) {
		rc = 0;
		goto out;
	}
	a->serve.backend = a->backend;
	a->serve.announce = stdout;
	if (pb_serve(s, m, &a->serve, err, sizeof err) < 0) {
		fprintf(stderr, "prunebench serve: %s\n", err);
		goto out;
	}
	rc = 0;
out:
	pb_session_close(s);
	if (state)
		p->fini(state);
	free(config);
	return rc;
}

int pb_cmd_serve(int argc, char **argv)
{
	struct serve_args a = {
		.backend = "ref", .serve = { .port = 8080 },
		.chain = { .cmd = "serve", .report = stderr },
	};
	struct pb_model *m = NULL;
	sigset_t stop;
	char err[1024];
	int rc = parse_args(argc, argv, &a);
	if (rc) {
		rc = rc < 0 ? 0 : rc;
		goto out;
	}
	if ((rc = pb_cli_chain_check(&a.chain)) != 0)
		goto out;
	/* blocked before any thread starts (a backend's pool, the server's):
	 * the server takes them with sigwait(); one sent while loading stops
	 * us as soon as loading is done */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	double t0 = pb_now_ms();
	if (!strncmp(a.model, "synth:", 6))
		rc = pb_model_synth(a.model + 6, (uint64_t)a.chain.seed, &m, err, sizeof err);
	else
		rc = pb_model_load_pre(a.model, NULL, a.pre, &m, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "prunebench serve: %s\n", err);
		rc = 1;
		goto out;
	}
	if (a.ctx > 0 && pb_model_set_ctx(m, (int)a.ctx, err, sizeof err) < 0) {
		fprintf(stderr, "prunebench serve: --ctx: %s\n", err);
		rc = 2;
		goto out;
	}
	pb_log(PB_LOG_INFO, "loaded %s in %.0f ms", m->name, pb_now_ms() - t0);
	if ((rc = pb_cli_chain_run(&a.chain, m)) != 0 || stop_pending())
		goto out;
	rc = serve(&a, m);
out:
	pb_cli_chain_free(&a.chain);
	pb_model_free(m);
	return rc;
}
