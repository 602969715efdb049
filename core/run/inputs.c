/* core/run/inputs.c — a cell's inputs as the cell opens them, and
 * `validate`'s check that every model and dataset of an experiment opens,
 * so that a truncated model or a malformed dataset is found before a run
 * instead of failing every cell that uses it. */
#include <stdio.h>
#include <string.h>

#include "model/modelio.h"
#include "run/run.h"
#include "text/text.h"
#include "util/util.h"

int pb_input_model_load(const struct pb_model_spec *ms, struct pb_model **m, char *err, size_t len)
{
	int rc;
	if (ms->source == PB_MODEL_SYNTH)
		rc = pb_model_synth(ms->preset, ms->seed, m, err, len);
	else
		rc = pb_model_load_pre(ms->path, ms->tokenizer[0] ? ms->tokenizer : NULL, ms->tokenizer_pre, m,
				       err, len);
	if (rc == 0 && ms->ctx > 0 && (rc = pb_model_set_ctx(*m, ms->ctx, err, len)) < 0) {
		pb_model_free(*m);
		*m = NULL;
	}
	return rc;
}

void pb_input_dataset_opts(const struct pb_experiment *e, const struct pb_dataset_spec *d,
			   struct pb_dataset_opts *o)
{
	*o = (struct pb_dataset_opts){
		.path = d->path, .kind = d->format, .input = d->input,
		.reference = d->reference, .prefix = d->prefix,
		.max_samples = d->max_samples ? d->max_samples : e->max_samples,
		.shuffle = d->shuffle, .seed = e->seed, .calib_count = d->calib_count,
		.separator = d->separator,
	};
}

int pb_inputs_check(const struct pb_experiment *e, FILE *out)
{
	char err[1024];
	int bad = 0;

	/* Loading maps a model file (the weights are not read) and parses
	 * its header, metadata, tensor table and tokenizer, as a cell does;
	 * synthetic presets are never materialised here. */
	for (int i = 0; i < e->n_models; i++) {
		const struct pb_model_spec *ms = &e->models[i];
		struct pb_model *m = NULL;
		if (ms->source == PB_MODEL_SYNTH)
			continue;
		/* a model only remote cells use names what a server holds:
		 * nothing here opens it (issue 16) */
		int local = 0;
		for (int k = 0; k < e->n_cells && !local; k++)
			local = e->cells[k].model == ms &&
				!pb_backend_is_remote(e->cells[k].backend->step.plugin->desc->ops);
		if (!local)
			continue;
		if (pb_input_model_load(ms, &m, err, sizeof err) < 0) {
			fprintf(out, "%s: model '%s': %s\n", e->file, ms->name, err);
			bad++;
		}
		pb_model_free(m);
	}
	for (int i = 0; i < e->n_datasets; i++) {
		const struct pb_dataset_spec *d = &e->datasets[i];
		struct pb_dataset_opts o;
		struct pb_dataset *ds = NULL;
		pb_input_dataset_opts(e, d, &o);
		if (pb_dataset_load(&o, &ds, err, sizeof err) < 0) {
			fprintf(out, "%s: dataset '%s': %s\n", e->file, d->name, err);
			bad++;
		}
		pb_dataset_free(ds);
	}
	return bad;
}
