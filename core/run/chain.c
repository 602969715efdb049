/* core/run/chain.c — chain validation (chain.h): for each (model, chain)
 * pair the experiment's cells use, walk the steps with the model's
 * architecture and the formats its block linears are in so far, and say
 * which step cannot read them or does not support the architecture. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/modelio.h"
#include "plugin/host.h"
#include "run/chain.h"
#include "util/util.h"

#define DEFAULT_IN (PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16))

/* Where problems go: each distinct line once (a chain that quantizes and
 * then prunes fails the same way on every model). */
struct sink {
	FILE *out;
	char **lines;
	int n;
};

static __attribute__((format(printf, 2, 3))) void say(struct sink *k, const char *fmt, ...)
{
	char line[1536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	for (int i = 0; i < k->n; i++)
		if (!strcmp(k->lines[i], line))
			return;
	fputs(line, k->out);
	char **p = realloc(k->lines, (size_t)(k->n + 1) * sizeof *p);
	if (p && (p[k->n] = strdup(line))) {
		k->lines = p;
		k->n++;
	} else if (p) {
		k->lines = p;
	}
}


/* "F32, F16, BF16" from format bits. */
static void fmt_list(uint32_t bits, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (int d = 0; d < PB_DTYPE_COUNT; d++)
		if (bits & PB_FMT(d))
			used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s",
						 used ? ", " : "", pb_dtype_name((enum pb_dtype)d));
}

static void arch_list(unsigned bits, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (unsigned a = 0; a < 32; a++)
		if ((bits & (1u << a)) && strcmp(pb_arch_name((enum pb_arch)a), "?"))
			used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s",
						 used ? ", " : "", pb_arch_name((enum pb_arch)a));
}

/* What the chain starts from: the architecture and block-linear formats
 * of a model spec, and the model itself for files (NULL for presets). */
struct start {
	enum pb_arch arch;
	uint32_t formats;
	struct pb_model *m;
	int ok;
};

static void start_of(const struct pb_experiment *e, const struct pb_model_spec *ms,
		     struct start *st, struct sink *out)
{
	char err[1024];
	memset(st, 0, sizeof *st);
	if (ms->source == PB_MODEL_SYNTH) {
		/* never build a preset here (llama-1b is 4.4 GB): its
		 * hyper-parameters say the arch, and synthetic weights are F32 */
		const struct pb_synth_preset *p = pb_synth_find(ms->preset);
		if (!p)
			return;   /* the cell reports the unknown preset */
		st->arch = p->arch;
		st->formats = PB_FMT(PB_F32);
		st->ok = 1;
		return;
	}
	if (pb_model_load_pre(ms->path, ms->tokenizer[0] ? ms->tokenizer : NULL, ms->tokenizer_pre, &st->m,
			      err, sizeof err) < 0) {
		say(out, "%s: warning: model '%s': chains not checked against it: %s\n", e->file,
			ms->name, err);
		return;
	}
	st->arch = st->m->arch;
	for (int i = 0; i < st->m->n_tensors; i++) {
		const struct pb_tensor *t = &st->m->tensors[i];
		if (t->layer >= 0 && pb_role_is_linear(t->role))
			st->formats |= PB_FMT(t->dtype);
	}
	st->ok = 1;
}

/* The check() hook of a chain's first step on a model file as loaded:
 * later steps would see the model as the earlier ones leave it, which
 * only running them shows. */
static int first_check(const struct pb_experiment *e, const struct pb_chain *ch,
		       const struct pb_model_spec *ms, struct pb_model *m, struct sink *out)
{
	const struct pb_step *st = &ch->steps[0];
	const struct pb_plugin *p = st->plugin->desc;
	const struct pb_pruner_ops *ops = p->ops;
	struct pb_host_ctx host;
	void *state = NULL;
	char why[512] = "";
	int bad = 0;
	if (!ops->check)
		return 0;
	pb_host_init(&host, p->name, e->seed, 1);
	int rc = p->init(&host.host, st->config, &state);
	if (rc < 0) {
		say(out, "%s: chain '%s' step 1 '%s': init failed: %s\n", e->file, ch->name, p->name,
			strerror(-rc));
		return 1;
	}
	if (ops->check(state, m, why, sizeof why) < 0) {
		say(out, "%s: chain '%s' step 1 '%s' cannot run on model '%s': %s\n", e->file,
			ch->name, p->name, ms->name, why[0] ? why : "no reason given");
		bad = 1;
	}
	p->fini(state);
	return bad;
}

/* 0 when every step can run, else 1 (one line on out). */
static int walk(const struct pb_experiment *e, const struct pb_chain *ch,
		const struct pb_model_spec *ms, const struct start *st, struct sink *out)
{
	uint32_t formats = st->formats;
	int quantized_by = -1;    /* the step that set the formats, if any */
	char have[128], can[128];
	for (int s = 0; s < ch->n_steps; s++) {
		const struct pb_plugin *p = ch->steps[s].plugin->desc;
		const struct pb_pruner_ops *ops = p->ops;
		uint32_t in = ops->in_formats ? ops->in_formats : DEFAULT_IN;
		if (ops->archs && !(ops->archs & (1u << st->arch))) {
			arch_list(ops->archs, can, sizeof can);
			say(out, "%s: chain '%s' step %d '%s': does not support %s models like '%s' "
				"(it supports %s)\n", e->file, ch->name, s + 1, p->name,
				pb_arch_name(st->arch), ms->name, can);
			return 1;
		}
		if (formats & ~in) {
			fmt_list(formats & ~in, have, sizeof have);
			fmt_list(in, can, sizeof can);
			if (quantized_by >= 0)
				say(out, "%s: chain '%s' step %d '%s': cannot read %s weights (it reads "
					"%s); put quantization last\n", e->file, ch->name, s + 1, p->name,
					have, can);
			else
				say(out, "%s: chain '%s' step %d '%s': cannot read %s weights of model "
					"'%s' (it reads %s); start from a float model\n", e->file,
					ch->name, s + 1, p->name, have, ms->name, can);
			return 1;
		}
		int to = ops->out_format ? ops->out_format(ch->steps[s].config) : -1;
		if (to >= 0 && to < PB_DTYPE_COUNT) {
			formats = PB_FMT(to);
			quantized_by = s;
		}
	}
	if (st->m && ch->n_steps > 0)
		return first_check(e, ch, ms, st->m, out);
	return 0;
}

int pb_chains_check(const struct pb_experiment *e, FILE *f)
{
	struct sink k = { .out = f }, *out = &k;
	int problems = 0;
	uint8_t *seen = calloc((size_t)(e->n_models * e->n_chains) + 1, 1);
	if (!seen)
		return 0;
	/* a remote backend (issue 16) runs requests on a server that holds
	 * its own model: nothing here can compress it */
	for (int i = 0; i < e->n_cells; i++) {
		const struct pb_cell *c = &e->cells[i];
		const struct pb_plugin *bp = c->backend->step.plugin->desc;
		if (c->chain->n_steps > 0 && pb_backend_is_remote(bp->ops)) {
			say(out, "%s: backend '%s' (%s) is remote: it sends whole requests to a server, "
			    "which holds its own model, so chain '%s' cannot be applied; a remote "
			    "cell's chain must be dense ([]): exclude the pair (exclude: [{pruner: %s, "
			    "backend: %s}]) or compress the model the server loads\n", e->file,
			    c->backend->name, bp->name, c->chain->name, c->chain->name, c->backend->name);
			problems++;
		}
	}
	for (int mi = 0; mi < e->n_models; mi++) {
		struct start st = { 0 };
		int started = 0;
		for (int i = 0; i < e->n_cells; i++) {
			const struct pb_cell *c = &e->cells[i];
			int ci = (int)(c->chain - e->chains);
			if (c->model - e->models != mi || c->chain->n_steps == 0 ||
			    seen[mi * e->n_chains + ci] ||
			    pb_backend_is_remote(c->backend->step.plugin->desc->ops))
				continue;
			seen[mi * e->n_chains + ci] = 1;
			if (!started) {
				start_of(e, &e->models[mi], &st, out);
				started = 1;
			}
			if (st.ok)
				problems += walk(e, c->chain, &e->models[mi], &st, out);
		}
		pb_model_free(st.m);
	}
	free(seen);
	for (int i = 0; i < k.n; i++)
		free(k.lines[i]);
	free(k.lines);
	return problems;
}
