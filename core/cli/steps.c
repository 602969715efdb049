/* core/cli/steps.c — the command line's chain of compression steps
 * (`prune`, `serve`): each -p parsed through its pruner's option table,
 * then run on one model in order, pruners that calibrate on --data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/steps.h"
#include "model/modelio.h"
#include "plugin/host.h"
#include "plugin/registry.h"
#include "run/calib.h"
#include "text/text.h"
#include "util/util.h"

#define DEFAULT_IN (PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16))

/* "NAME key=value ..." into a checked config of pruner NAME; 2 on error. */
static int parse_step(const char *cmd, const char *spec, struct pb_cli_step *st)
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
		fprintf(stderr, "prunebench %s: -p '%s': expected 'NAME key=value ...'\n", cmd, spec);
		goto out;
	}
	const struct pb_plugin_entry *e = reg ? pb_registry_find(reg, PB_PRUNER, name) : NULL;
	if (!e) {
		const struct pb_plugin_failure *f = reg ? pb_registry_failure(reg, PB_PRUNER, name) : NULL;
		if (f)
			fprintf(stderr, "prunebench %s: -p '%s': pruner '%s' failed to load: %s\n", cmd, spec,
				name, f->why);
		else
			fprintf(stderr, "prunebench %s: -p '%s': no pruner '%s' (see 'prunebench plugins')\n",
				cmd, spec, name);
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
			fprintf(stderr, "prunebench %s: -p '%s': '%s': expected key=value\n", cmd, spec, kv);
			goto out;
		}
		*eq = '\0';
		const struct pb_option *o = st->p->options ? pb_option_find(st->p->options, kv) : NULL;
		if (!o) {
			const char *near = st->p->options ? pb_option_suggest(st->p->options, kv) : NULL;
			fprintf(stderr, "prunebench %s: -p '%s': pruner '%s': unknown option '%s'%s%s%s\n",
				cmd, spec, name, kv, near ? " (did you mean '" : "", near ? near : "",
				near ? "'?)" : "");
			goto out;
		}
		if (pb_option_parse(o, st->config, eq + 1, why, sizeof why) < 0) {
			fprintf(stderr, "prunebench %s: -p '%s': pruner '%s': option '%s': %s\n", cmd, spec,
				name, kv, why);
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
			fprintf(stderr, "prunebench %s: -p '%s': pruner '%s' needs option '%s' (%s)\n", cmd,
				spec, name, o->key, o->help ? o->help : "no default");
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

int pb_cli_chain_add(struct pb_cli_chain *c, const char *spec)
{
	if (c->n_steps == PB_CLI_MAX_STEPS) {
		fprintf(stderr, "prunebench %s: at most %d steps\n", c->cmd, PB_CLI_MAX_STEPS);
		return 2;
	}
	int rc = parse_step(c->cmd, spec, &c->steps[c->n_steps]);
	if (!rc)
		c->n_steps++;
	return rc;
}

int pb_cli_chain_check(const struct pb_cli_chain *c)
{
	for (int s = 0; s < c->n_steps; s++)
		if (pb_pruner_calib(c->steps[s].p->ops, c->steps[s].config) && !c->data) {
			fprintf(stderr, "prunebench %s: -p '%s': pruner '%s' calibrates on text: give --data FILE\n",
				c->cmd, c->steps[s].spec, c->steps[s].p->name);
			return 2;
		}
	return 0;
}

/* May this step read the model as the chain has left it? */
static int step_fits(const char *cmd, const struct pb_cli_step *st, const struct pb_model *m)
{
	const struct pb_pruner_ops *ops = st->p->ops;
	uint32_t in = ops->in_formats ? ops->in_formats : DEFAULT_IN;
	if (ops->archs && !(ops->archs & (1u << m->arch))) {
		fprintf(stderr, "prunebench %s: -p '%s': pruner '%s' does not support %s's architecture\n",
			cmd, st->spec, st->p->name, m->name);
		return -ENOTSUP;
	}
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (pb_role_is_linear(t->role) && t->layer >= 0 && !(in & PB_FMT(t->dtype))) {
			fprintf(stderr, "prunebench %s: -p '%s': pruner '%s' cannot read %s weights ('%s'); "
				"put quantization last\n", cmd, st->spec, st->p->name, pb_dtype_name(t->dtype),
				t->name);
			return -ENOTSUP;
		}
	}
	return 0;
}

static struct pb_calib *open_calib(const struct pb_cli_chain *c, const struct pb_cli_step *st,
				   struct pb_model *m, const struct pb_dataset *ds, uint64_t seed)
{
	struct pb_registry *reg = pb_cli_registry();
	const struct pb_plugin_entry *ref = reg ? pb_registry_find(reg, PB_BACKEND, "ref") : NULL;
	struct pb_calib *calib = NULL;
	int32_t *tok = NULL;
	char err[1024];
	int n_seq, seqlen;
	if (!ref) {
		fprintf(stderr, "prunebench %s: -p '%s': calibration runs on the 'ref' backend, which is not installed\n",
			c->cmd, st->spec);
		return NULL;
	}
	/* the -p text's own nsamples/seqlen, else --nsamples/--seqlen, else
	 * the pruner's defaults */
	pb_calib_sizes(st->p, st->config, (int)c->nsamples, (int)c->seqlen, &n_seq, &seqlen);
	if (c->nsamples && !st->has_nsamples)
		n_seq = (int)c->nsamples;
	if (c->seqlen && !st->has_seqlen)
		seqlen = (int)c->seqlen;
	if (seqlen > m->hp.ctx) {
		pb_log(PB_LOG_WARN, "calibration windows of %d tokens cut to %s's context of %d", seqlen,
		       m->name, m->hp.ctx);
		seqlen = m->hp.ctx;
	}
	if (pb_calib_windows(pb_model_tokenizer(m), ds->samples, ds->n, 0, n_seq, seqlen, &tok, err,
			     sizeof err) < 0) {
		fprintf(stderr, "prunebench %s: -p '%s': %s: %s\n", c->cmd, st->spec, c->data, err);
		return NULL;
	}
	struct pb_calib_opts o = {
		.backend = ref->desc, .tokens = tok, .n_seq = n_seq, .seqlen = seqlen, .seed = seed,
	};
	if (pb_calib_open(m, &o, &calib, err, sizeof err) < 0)
		fprintf(stderr, "prunebench %s: -p '%s': %s\n", c->cmd, st->spec, err);
	else
		pb_log(PB_LOG_INFO, "%s: calibrating on %d windows of %d tokens from %s", st->p->name,
		       n_seq, seqlen, c->data);
	free(tok);
	return calib;
}

double pb_cli_sparsity_pct(const struct pb_model *m, int64_t *bytes)
{
	int64_t params, nonzero;
	pb_model_count(m, 0, NULL, NULL, bytes);
	pb_model_count(m, 1, &params, &nonzero, NULL);
	return params ? 100.0 * (double)(params - nonzero) / (double)params : 0.0;
}

/* Run one step on m; 0 or the exit status. */
static int run_step(const struct pb_cli_chain *c, int s, struct pb_model *m,
		    const struct pb_dataset *ds)
{
	const struct pb_cli_step *st = &c->steps[s];
	const struct pb_pruner_ops *ops = st->p->ops;
	FILE *f = c->report;
	struct pb_host_ctx host;
	struct pb_prune_target *targets = NULL;
	struct pb_calib *calib = NULL;
	void *state = NULL;
	char why[512] = "";
	int64_t bytes0, bytes1;
	int rc = 1, err;

	if (step_fits(c->cmd, st, m) < 0)
		return 1;
	if (pb_pruner_calib(ops, st->config) && !ds)
		return 2;   /* pb_cli_chain_check said so before loading anything */
	const uint64_t seed = (uint64_t)c->seed + (uint64_t)s;
	pb_host_init(&host, st->p->name, seed, 0);
	if ((err = st->p->init(&host.host, st->config, &state)) < 0) {
		fprintf(stderr, "prunebench %s: -p '%s': init failed: %s\n", c->cmd, st->spec, strerror(-err));
		return 1;
	}
	if (ops->check && (err = ops->check(state, m, why, sizeof why)) < 0) {
		fprintf(stderr, "prunebench %s: -p '%s': cannot run on %s: %s\n", c->cmd, st->spec, m->name,
			why);
		goto out;
	}
	if (pb_pruner_calib(ops, st->config) && !(calib = open_calib(c, st, m, ds, seed)))
		goto out;
	const int n_before = m->n_tensors;
	if (!(targets = calloc((size_t)n_before + 1, sizeof *targets)))
		goto out;
	for (int i = 0; i < m->n_tensors; i++)
		targets[i].sparsity = -1;
	double before = pb_cli_sparsity_pct(m, &bytes0), t0 = pb_now_ms();
	if ((err = ops->apply(state, m, calib, targets)) < 0) {
		fprintf(stderr, "prunebench %s: -p '%s': failed: %s\n", c->cmd, st->spec, strerror(-err));
		goto out;
	}
	double ms = pb_now_ms() - t0, after = pb_cli_sparsity_pct(m, &bytes1);
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
	fprintf(f, "step %d  %-28s %10.1f ms", s + 1, st->spec, ms);
	if (calib)
		fprintf(f, " (calibration %.1f ms)", pb_calib_ms(calib));
	fprintf(f, "\n        linear sparsity %.2f%% -> %.2f%%, weight bytes %lld -> %lld", before, after,
		(long long)bytes0, (long long)bytes1);
	if (n_t && tp)
		fprintf(f, "; %lld tensors touched: target %.2f%%, achieved %.2f%%", (long long)n_t,
			100.0 * target / (double)n_t, 100.0 * (double)tz / (double)tp);
	fprintf(f, "\n");
	fflush(f);
	rc = 0;
out:
	pb_calib_close(calib);
	free(targets);
	st->p->fini(state);
	return rc;
}

int pb_cli_chain_run(struct pb_cli_chain *c, struct pb_model *m)
{
	struct pb_dataset *ds = NULL;
	char err[1024];
	int rc = 0, need_data = 0;
	for (int s = 0; s < c->n_steps; s++)
		need_data |= ((const struct pb_pruner_ops *)c->steps[s].p->ops)->calib != 0;
	if (need_data && c->data) {
		struct pb_dataset_opts o = { .path = c->data, .kind = pb_dataset_kind_of_path(c->data),
					     .seed = (uint64_t)c->seed };
		if (pb_dataset_load(&o, &ds, err, sizeof err) < 0) {
			fprintf(stderr, "prunebench %s: --data: %s\n", c->cmd, err);
			return 1;
		}
	} else if (c->data) {
		pb_log(PB_LOG_WARN, "--data %s: no step calibrates; not read", c->data);
	}
	for (int s = 0; s < c->n_steps && !rc; s++)
		rc = run_step(c, s, m, ds);
	pb_dataset_free(ds);
	return rc;
}

void pb_cli_chain_free(struct pb_cli_chain *c)
{
	for (int s = 0; s < c->n_steps; s++) {
		free(c->steps[s].config);
		c->steps[s].config = NULL;
	}
	c->n_steps = 0;
}
