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
#include "model/modelio.h"
#include "plugin/host.h"
#include "plugin/registry.h"
#include "run/calib.h"
#include "text/text.h"
#include "util/util.h"

#define MAX_STEPS 32
#define DEFAULT_IN (PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16))

struct step {
	const char *spec;                /* the -p text, for messages */
	const struct pb_plugin *p;
	void *config;
	int has_nsamples, has_seqlen;    /* given in the -p text */
};

struct prune_args {
	const char *model, *data, *out;
	long long nsamples, seqlen, seed;
	struct step steps[MAX_STEPS];
	int n_steps;
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

/* "NAME key=value ..." into a checked config of pruner NAME; 2 on error. */
static int parse_step(const char *spec, struct step *st)
{
	struct pb_registry *reg = pb_cli_registry();
	char *text = strdup(spec), *save = NULL, why[512];
	int rc = 2;
	st->spec = spec;
	st->config = NULL;
	if (!text)
		return 1;
	const char *name = strtok_r(text, " \t", &save);
	if (!name) {
		fprintf(stderr, "prunebench prune: -p '%s': expected 'NAME key=value ...'\n", spec);
		goto out;
	}
	const struct pb_plugin_entry *e = reg ? pb_registry_find(reg, PB_PRUNER, name) : NULL;
	if (!e) {
		const struct pb_plugin_failure *f = reg ? pb_registry_failure(reg, PB_PRUNER, name) : NULL;
		if (f)
			fprintf(stderr, "prunebench prune: -p '%s': pruner '%s' failed to load: %s\n", spec,
				name, f->why);
		else
			fprintf(stderr, "prunebench prune: -p '%s': no pruner '%s' (see 'prunebench plugins')\n",
				spec, name);
		goto out;
	}
	st->p = e->desc;
	st->config = calloc(1, st->p->config_size ? st->p->config_size : 1);
	if (!st->config ||
	    (st->p->options && pb_options_defaults(st->p->options, st->config, st->p->config_size) < 0)) {
		rc = 1;
		goto out;
	}
	const struct pb_option *set[64];
	int n_set = 0;
	for (char *kv; (kv = strtok_r(NULL, " \t", &save));) {
		char *eq = strchr(kv, '=');
		if (!eq || eq == kv) {
			fprintf(stderr, "prunebench prune: -p '%s': '%s': expected key=value\n", spec, kv);
			goto out;
		}
		*eq = '\0';
		const struct pb_option *o = st->p->options ? pb_option_find(st->p->options, kv) : NULL;
		if (!o) {
			const char *near = st->p->options ? pb_option_suggest(st->p->options, kv) : NULL;
			fprintf(stderr, "prunebench prune: -p '%s': pruner '%s': unknown option '%s'%s%s%s\n",
				spec, name, kv, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
			goto out;
		}
		if (pb_option_parse(o, st->config, eq + 1, why, sizeof why) < 0) {
			fprintf(stderr, "prunebench prune: -p '%s': pruner '%s': option '%s': %s\n", spec, name,
				kv, why);
			goto out;
		}
		if (n_set < 64)
			set[n_set++] = o;
		st->has_nsamples |= !strcmp(o->key, "nsamples");
		st->has_seqlen |= !strcmp(o->key, "seqlen");
	}
	for (const struct pb_option *o = st->p->options; o && o->key; o++) {
		int given = 0;
		for (int i = 0; i < n_set; i++)
			given |= set[i] == o;
		if (!o->def && !given) {
			fprintf(stderr, "prunebench prune: -p '%s': pruner '%s' needs option '%s' (%s)\n", spec,
				name, o->key, o->help ? o->help : "no default");
			goto out;
		}
	}
	rc = 0;
out:
	free(text);
	if (rc) {
		free(st->config);
		st->config = NULL;
	}
	return rc;
}

/* May this step read the model as the chain has left it? */
static int step_fits(const struct step *st, const struct pb_model *m)
{
	const struct pb_pruner_ops *ops = st->p->ops;
	uint32_t in = ops->in_formats ? ops->in_formats : DEFAULT_IN;
	if (ops->archs && !(ops->archs & (1u << m->arch))) {
		fprintf(stderr, "prunebench prune: -p '%s': pruner '%s' does not support %s's architecture\n",
			st->spec, st->p->name, m->name);
		return -ENOTSUP;
	}
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (pb_role_is_linear(t->role) && t->layer >= 0 && !(in & PB_FMT(t->dtype))) {
			fprintf(stderr, "prunebench prune: -p '%s': pruner '%s' cannot read %s weights ('%s'); "
				"put quantization last\n", st->spec, st->p->name, pb_dtype_name(t->dtype), t->name);
			return -ENOTSUP;
		}
	}
	return 0;
}

static struct pb_calib *open_calib(const struct prune_args *a, const struct step *st,
				   struct pb_model *m, const struct pb_dataset *ds, uint64_t seed)
{
	struct pb_registry *reg = pb_cli_registry();
	const struct pb_plugin_entry *ref = reg ? pb_registry_find(reg, PB_BACKEND, "ref") : NULL;
	struct pb_calib *c = NULL;
	int32_t *tok = NULL;
	char err[1024];
	int n_seq, seqlen;
	if (!ref) {
		fprintf(stderr, "prunebench prune: -p '%s': calibration runs on the 'ref' backend, which is not installed\n",
			st->spec);
		return NULL;
	}
	/* the -p text's own nsamples/seqlen, else --nsamples/--seqlen, else
	 * the pruner's defaults */
	pb_calib_sizes(st->p, st->config, (int)a->nsamples, (int)a->seqlen, &n_seq, &seqlen);
	if (a->nsamples && !st->has_nsamples)
		n_seq = (int)a->nsamples;
	if (a->seqlen && !st->has_seqlen)
		seqlen = (int)a->seqlen;
	if (seqlen > m->hp.ctx) {
		pb_log(PB_LOG_WARN, "calibration windows of %d tokens cut to %s's context of %d", seqlen,
		       m->name, m->hp.ctx);
		seqlen = m->hp.ctx;
	}
	if (pb_calib_windows(pb_model_tokenizer(m), ds->samples, ds->n, 0, n_seq, seqlen, &tok, err,
			     sizeof err) < 0) {
		fprintf(stderr, "prunebench prune: -p '%s': %s: %s\n", st->spec, a->data, err);
		return NULL;
	}
	struct pb_calib_opts o = {
		.backend = ref->desc, .tokens = tok, .n_seq = n_seq, .seqlen = seqlen, .seed = seed,
	};
	if (pb_calib_open(m, &o, &c, err, sizeof err) < 0)
		fprintf(stderr, "prunebench prune: -p '%s': %s\n", st->spec, err);
	else
		pb_log(PB_LOG_INFO, "%s: calibrating on %d windows of %d tokens from %s", st->p->name,
		       n_seq, seqlen, a->data);
	free(tok);
	return c;
}

static double sparsity_pct(const struct pb_model *m, int64_t *bytes)
{
	int64_t params, nonzero;
	pb_model_count(m, 0, NULL, NULL, bytes);
	pb_model_count(m, 1, &params, &nonzero, NULL);
	return params ? 100.0 * (double)(params - nonzero) / (double)params : 0.0;
}

/* Run one step on m; 0 or the exit status. */
static int run_step(const struct prune_args *a, int s, struct pb_model *m,
		    const struct pb_dataset *ds)
{
	const struct step *st = &a->steps[s];
	const struct pb_pruner_ops *ops = st->p->ops;
	struct pb_host_ctx host;
	struct pb_prune_target *targets = NULL;
	struct pb_calib *calib = NULL;
	void *state = NULL;
	char why[512] = "";
	int64_t bytes0, bytes1;
	int rc = 1, err;

	if (step_fits(st, m) < 0)
		return 1;
	if (pb_pruner_calib(ops, st->config) && !ds)
		return 2;   /* pb_cmd_prune said so before loading anything */
	const uint64_t seed = (uint64_t)a->seed + (uint64_t)s;
	pb_host_init(&host, st->p->name, seed, 0);
	if ((err = st->p->init(&host.host, st->config, &state)) < 0) {
		fprintf(stderr, "prunebench prune: -p '%s': init failed: %s\n", st->spec, strerror(-err));
		return 1;
	}
	if (ops->check && (err = ops->check(state, m, why, sizeof why)) < 0) {
		fprintf(stderr, "prunebench prune: -p '%s': cannot run on %s: %s\n", st->spec, m->name, why);
		goto out;
	}
	if (pb_pruner_calib(ops, st->config) && !(calib = open_calib(a, st, m, ds, seed)))
		goto out;
	const int n_before = m->n_tensors;
	if (!(targets = calloc((size_t)n_before + 1, sizeof *targets)))
		goto out;
	for (int i = 0; i < m->n_tensors; i++)
		targets[i].sparsity = -1;
	double before = sparsity_pct(m, &bytes0), t0 = pb_now_ms();
	if ((err = ops->apply(state, m, calib, targets)) < 0) {
		fprintf(stderr, "prunebench prune: -p '%s': failed: %s\n", st->spec, strerror(-err));
		goto out;
	}
	double ms = pb_now_ms() - t0, after = sparsity_pct(m, &bytes1);
	/* what the pruner aimed at, measured on the tensors it says it
	 * touched (when it removed tensors, the indices no longer match) */
	int64_t tp = 0, tz = 0, n_t = 0;
	double target = 0;
	for (int i = 0; i < n_before && n_before == m->n_tensors; i++)
		if (targets[i].sparsity >= 0) {
			tp += pb_tensor_nelements(&m->tensors[i]);
			tz += pb_tensor_count_zeros(&m->tensors[i]);
			target += targets[i].sparsity;
			n_t++;
		}
	printf("step %d  %-28s %10.1f ms", s + 1, st->spec, ms);
	if (calib)
		printf(" (calibration %.1f ms)", pb_calib_ms(calib));
	printf("\n        linear sparsity %.2f%% -> %.2f%%, weight bytes %lld -> %lld", before, after,
	       (long long)bytes0, (long long)bytes1);
	if (n_t && tp)
		printf("; %lld tensors touched: target %.2f%%, achieved %.2f%%", (long long)n_t,
		       100.0 * target / (double)n_t, 100.0 * (double)tz / (double)tp);
	printf("\n");
	fflush(stdout);
	rc = 0;
out:
	pb_calib_close(calib);
	free(targets);
	st->p->fini(state);
	return rc;
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
			if (a->n_steps == MAX_STEPS) {
				fprintf(stderr, "prunebench prune: at most %d steps\n", MAX_STEPS);
				return 2;
			}
			if ((rc = parse_step(optarg, &a->steps[a->n_steps])) != 0)
				return rc;
			a->n_steps++;
			break;
		case 'o': a->out = optarg; break;
		case 'd': a->data = optarg; break;
		case 'N':
		case 'L':
			if (parse_int(optarg, 1, 1 << 20, c == 'N' ? &a->nsamples : &a->seqlen) < 0) {
				fprintf(stderr, "prunebench prune: --%s: expected a positive integer, got '%s'\n",
					c == 'N' ? "nsamples" : "seqlen", optarg);
				return 2;
			}
			break;
		case 's':
			if (parse_int(optarg, 0, INT64_MAX, &a->seed) < 0) {
				fprintf(stderr, "prunebench prune: --seed: expected a non-negative integer, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h': prune_usage(stdout); return -1;
		default: prune_usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || !a->n_steps || !a->out) {
		fprintf(stderr, "prunebench prune: expected one MODEL, at least one -p STEP and -o OUT.gguf\n");
		prune_usage(stderr);
		return 2;
	}
	a->model = argv[optind];
	return 0;
}

int pb_cmd_prune(int argc, char **argv)
{
	struct prune_args a = { 0 };
	struct pb_model *m = NULL;
	struct pb_dataset *ds = NULL;
	char err[1024];
	int rc = parse_args(argc, argv, &a), need_data = 0;
	if (rc) {
		rc = rc < 0 ? 0 : rc;
		goto out;
	}
	for (int s = 0; s < a.n_steps; s++)
		if (pb_pruner_calib(a.steps[s].p->ops, a.steps[s].config) && !a.data) {
			fprintf(stderr, "prunebench prune: -p '%s': pruner '%s' calibrates on text: give --data FILE\n",
				a.steps[s].spec, a.steps[s].p->name);
			rc = 2;
			goto out;
		}
	if (!strncmp(a.model, "synth:", 6))
		rc = pb_model_synth(a.model + 6, (uint64_t)a.seed, &m, err, sizeof err);
	else
		rc = pb_model_load(a.model, &m, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "prunebench prune: %s\n", err);
		rc = 1;
		goto out;
	}
	for (int s = 0; s < a.n_steps; s++)
		need_data |= ((const struct pb_pruner_ops *)a.steps[s].p->ops)->calib != 0;
	if (need_data && a.data) {
		struct pb_dataset_opts o = { .path = a.data, .kind = pb_dataset_kind_of_path(a.data),
					     .seed = (uint64_t)a.seed };
		if (pb_dataset_load(&o, &ds, err, sizeof err) < 0) {
			fprintf(stderr, "prunebench prune: --data: %s\n", err);
			rc = 1;
			goto out;
		}
	} else if (a.data) {
		pb_log(PB_LOG_WARN, "--data %s: no step calibrates; not read", a.data);
	}
	for (int s = 0; s < a.n_steps; s++)
		if ((rc = run_step(&a, s, m, ds)) != 0)
			goto out;
	double t0 = pb_now_ms();
	if (pb_gguf_write(m, a.out, err, sizeof err) < 0) {
		fprintf(stderr, "prunebench prune: %s\n", err);
		rc = 1;
		goto out;
	}
	int64_t bytes;
	double sp = sparsity_pct(m, &bytes);
	printf("wrote %s: linear sparsity %.2f%%, %lld bytes of weights (%.1f ms)\n", a.out, sp,
	       (long long)bytes, pb_now_ms() - t0);
	rc = 0;
out:
	for (int s = 0; s < a.n_steps; s++)
		free(a.steps[s].config);
	pb_dataset_free(ds);
	pb_model_free(m);
	return rc;
}
