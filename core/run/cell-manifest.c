/* core/run/cell-manifest.c — a cell's manifest.yaml: everything needed to
 * repeat the cell (resolved configuration, seed, versions, plugin hashes,
 * model and dataset content hashes, host, Slurm context) and what it found
 * (model shape, dataset, accuracy sources, probes, timings). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pb-config.h"
#include "plugin/host.h"
#include "results/results.h"
#include "run/cell-record.h"
#include "util/util.h"

void pb_manifest_common(struct pb_yaml_out *y, const struct pb_experiment *e,
			const struct pb_cell *c)
{
	struct pb_host_info hi;
	pb_yaml_kv(y, "cell", "%s", c->id);
	pb_yaml_kv(y, "experiment", "%s", e->name);
	pb_yaml_kv(y, "experiment_file", "%s", e->file);
	pb_yaml_map_begin(y, "prunebench");
	pb_yaml_kv(y, "version", "%s", PB_VERSION);
	pb_yaml_kv(y, "git_revision", "%s", PB_GIT_REV);
	pb_yaml_kv(y, "abi", "%d", PB_ABI_VERSION);
	pb_yaml_map_end(y);
	pb_yaml_kv(y, "seed", "%llu", (unsigned long long)e->seed);
	pb_yaml_map_begin(y, "axes");
	pb_yaml_kv(y, "model", "%s", c->model->name);
	pb_yaml_kv(y, "dataset", "%s", c->dataset->name);
	pb_yaml_kv(y, "pruner", "%s", c->chain->name);
	pb_yaml_kv(y, "backend", "%s", c->backend->name);
	pb_yaml_map_end(y);
	if (pb_yaml_kv_yaml(y, "config", c->config_text) < 0)
		pb_yaml_kv(y, "config", "%s", c->config_text);

	pb_yaml_seq_begin(y, "plugins");
	const struct pb_step *steps[64];
	int n = 0;
	for (int i = 0; i < c->chain->n_steps && n < 62; i++)
		steps[n++] = &c->chain->steps[i];
	steps[n++] = &c->backend->step;
	for (int i = 0; i < e->n_probes && n < 64; i++)
		steps[n++] = &e->probes[i];
	for (int i = 0; i < n; i++) {
		const struct pb_plugin_entry *pe = steps[i]->plugin;
		pb_yaml_map_begin(y, NULL);
		pb_yaml_kv(y, "name", "%s", pe->desc->name);
		pb_yaml_kv(y, "kind", "%s", pb_plugin_kind_name(pe->desc->kind));
		pb_yaml_kv(y, "version", "%s", pe->desc->version);
		pb_yaml_kv(y, "path", "%s", pe->path);
		pb_yaml_kv(y, "sha256", "%s", pe->sha256);
		pb_yaml_map_end(y);
	}
	pb_yaml_seq_end(y);

	pb_host_info_read(&hi);
	pb_yaml_map_begin(y, "host");
	pb_yaml_kv(y, "hostname", "%s", hi.hostname);
	pb_yaml_kv(y, "cpu_model", "%s", hi.cpu_model);
	pb_yaml_kv(y, "cores_online", "%d", hi.cores_online);
	pb_yaml_kv(y, "cores_allowed", "%d", hi.cores_allowed);
	pb_yaml_kv(y, "governor", "%s", hi.governor);
	pb_yaml_kv(y, "kernel", "%s", hi.kernel);
	pb_yaml_map_end(y);

	/* Slurm batch context, when run inside a job */
	static const char *const slurm[] = {
		"SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
		"SLURM_ARRAY_TASK_COUNT", "SLURMD_NODENAME", "SLURM_CPUS_PER_TASK",
	};
	int any = 0;
	for (size_t i = 0; i < PB_ARRAY_LEN(slurm); i++)
		any |= getenv(slurm[i]) != NULL;
	if (any) {
		pb_yaml_map_begin(y, "slurm");
		for (size_t i = 0; i < PB_ARRAY_LEN(slurm); i++)
			if (getenv(slurm[i]))
				pb_yaml_kv(y, slurm[i], "%s", getenv(slurm[i]));
		pb_yaml_map_end(y);
	}
}

/* A started probe's own account (pb_probe_ops.describe: zones, trip
 * points, wrap ranges) under `details`.  The record keeps no probe states
 * and the run's instances are finished by now, so a fresh instance with
 * the same configuration is asked; describe() is documented as cheap and
 * side-effect free for exactly this. */
static void probe_details(struct pb_yaml_out *y, const struct pb_experiment *e, const char *name)
{
	enum { DETAILS_MAX = 32768 };
	for (int i = 0; i < e->n_probes; i++) {
		const struct pb_plugin *p = e->probes[i].plugin->desc;
		const struct pb_probe_ops *ops = p->ops;
		struct pb_host_ctx hc;
		void *state = NULL;
		char *text;
		if (strcmp(p->name, name) || !ops->describe)
			continue;
		text = malloc(DETAILS_MAX);
		pb_host_init(&hc, p->name, e->seed, 1);
		if (text && p->init(&hc.host, e->probes[i].config, &state) == 0) {
			if (ops->describe(state, text, DETAILS_MAX) == 0)
				pb_yaml_kv_yaml(y, "details", text);
			p->fini(state);
		}
		free(text);
		return;
	}
}

/* How the cell measured: energy sources and their method, the idle
 * baseline, the cooldown wait, the throttle criteria. */
static void measurement(struct pb_yaml_out *y, const struct pb_cell_record *r)
{
	const struct pb_experiment *e = r->e;

	pb_yaml_map_begin(y, "measurement");
	pb_yaml_kv(y, "default_probe_interval_ms", "%g", PB_PROBE_DEFAULT_INTERVAL_MS);
	pb_yaml_seq_begin(y, "energy");
	for (int i = 0; i < r->n_energy; i++) {
		const struct pb_energy_source *es = &r->energy[i];
		pb_yaml_map_begin(y, NULL);
		pb_yaml_kv(y, "channel", "%s", es->channel);
		pb_yaml_kv(y, "probe", "%s", es->probe);
		pb_yaml_kv(y, "method", "%s", pb_energy_method_name(es->kind));
		if (r->baseline_s > 0)   /* .nan: no readings in the baseline */
			pb_yaml_kv(y, "idle_power_w", "%.6g", es->idle_power_w);
		pb_yaml_map_end(y);
	}
	pb_yaml_seq_end(y);
	if (r->baseline_s > 0) {
		pb_yaml_map_begin(y, "idle_baseline");
		pb_yaml_kv(y, "seconds", "%g", r->baseline_s);
		pb_yaml_kv(y, "measured_ms", "%.3f", r->baseline_ms);
		pb_yaml_kv(y, "channels", "%d", r->baseline_channels);
		pb_yaml_map_end(y);
	}
	if (r->cooldown.ran) {
		const struct pb_cooldown_result *c = &r->cooldown;
		pb_yaml_map_begin(y, "cooldown");
		pb_yaml_kv(y, "max_temp_c", "%g", e->cooldown_max_temp_c);
		pb_yaml_kv(y, "timeout_s", "%g", e->cooldown_timeout_s);
		pb_yaml_kv(y, "waited_s", "%.3f", c->waited_ms / 1e3);
		pb_yaml_kv_bool(y, "timed_out", c->timed_out);
		pb_yaml_kv(y, "temperature_channels", "%d", c->n_channels);
		if (c->n_channels) {
			pb_yaml_kv(y, "temp_c_start", "%g", c->start_c);
			pb_yaml_kv(y, "temp_c_end", "%g", c->end_c);
		} else {
			pb_yaml_kv(y, "note", "%s", "no probe reports a temperature (C): nothing to wait on");
		}
		pb_yaml_map_end(y);
	}
	pb_host_manifest(y, r);
	pb_yaml_map_begin(y, "throttle");
	pb_yaml_kv(y, "throttle_pct", "%g", e->throttle_pct);
	if (r->throttle_set && !isnan(r->throttle.freq_limit_mhz)) {
		pb_yaml_kv(y, "cpu_freq_reference_mhz", "%g", r->throttle.freq_ref_mhz);
		pb_yaml_kv(y, "cpu_freq_limit_mhz", "%g", r->throttle.freq_limit_mhz);
	} else {
		pb_yaml_kv(y, "cpu_freq", "%s", e->throttle_pct <= 0 ? "off (throttle_pct: 0)" :
			   "not checked: no cpu_freq_mhz_min readings during warm-up");
	}
	pb_yaml_seq_begin(y, "trip_points");
	for (int k = 0; r->throttle_set && k < r->throttle.n_trips; k++) {
		pb_yaml_map_begin(y, NULL);
		pb_yaml_kv(y, "channel", "%s", r->throttle.trips[k].channel);
		pb_yaml_kv(y, "temp_c", "%g", r->throttle.trips[k].trip_c);
		pb_yaml_map_end(y);
	}
	pb_yaml_seq_end(y);
	pb_yaml_map_end(y);
	pb_yaml_map_end(y);
}

int pb_cell_record_manifest(const struct pb_cell_record *r, const char *path)
{
	const struct pb_experiment *e = r->e;
	const struct pb_cell *c = r->c;
	char now[32];
	struct pb_yaml_out *y = pb_yaml_open(path);
	if (!y)
		return -errno;
	pb_yaml_kv(y, "status", "done");
	pb_manifest_common(y, e, c);
	pb_yaml_map_begin(y, "model");
	pb_yaml_kv(y, "name", "%s", c->model->name);
	/* random weights from a seed (synth:): accuracy against the dense
	 * model means little on them, and a reader must be told */
	pb_yaml_kv_bool(y, "synthetic", c->model->source == PB_MODEL_SYNTH);
	if (c->model->source == PB_MODEL_SYNTH) {
		pb_yaml_kv(y, "synth", "%s", c->model->preset);
		pb_yaml_kv(y, "seed", "%llu", (unsigned long long)c->model->seed);
	} else {
		pb_yaml_kv(y, "path", "%s", c->model->path);
	}
	if (r->remote) {
		/* the server holds whatever it serves; nothing here says what */
		pb_yaml_kv(y, "loaded", "%s", "no: remote backend (the server holds the model; "
			   "this entry only names it)");
		pb_yaml_map_end(y);
		goto dataset;
	}
	pb_yaml_kv(y, "content_sha256", "%s", r->model_sha256);
	pb_yaml_kv(y, "dim", "%d", r->hp.dim);
	pb_yaml_kv(y, "n_layers", "%d", r->hp.n_layers);
	pb_yaml_kv(y, "n_heads", "%d", r->hp.n_heads);
	pb_yaml_kv(y, "n_kv_heads", "%d", r->hp.n_kv_heads);
	pb_yaml_kv(y, "ffn_dim", "%d", r->hp.ffn_dim);
	pb_yaml_kv(y, "vocab", "%d", r->hp.vocab);
	pb_yaml_kv(y, "ctx", "%d", r->hp.ctx);
	pb_yaml_kv(y, "ctx_train", "%d", pb_hp_ctx_train(&r->hp));
	pb_yaml_map_end(y);
dataset:
	pb_yaml_map_begin(y, "dataset");
	pb_yaml_kv(y, "name", "%s", c->dataset->name);
	pb_yaml_kv(y, "path", "%s", c->dataset->path);
	pb_yaml_kv(y, "format", "%s", pb_dataset_kind_name(c->dataset->format));
	pb_yaml_kv(y, "content_sha256", "%s", r->dataset_sha256);
	pb_yaml_kv(y, "prompts", "%d", r->n_prompts);
	pb_yaml_kv(y, "calibration_records", "%d", r->n_calib);
	pb_yaml_kv_bool(y, "references", r->has_reference);
	pb_yaml_map_end(y);
	pb_yaml_map_begin(y, "accuracy");
	pb_yaml_kv(y, "scored_tokens", "%ld", r->scored ? r->acc.n_nll : 0L);
	if (r->vs_dense) {
		pb_yaml_kv(y, "dense_reference", "%s", r->reference_dir);
		pb_yaml_kv(y, "top_k", "%d", r->top_k);
		pb_yaml_kv(y, "kl", "%s", r->top_k < r->hp.vocab ?
			   "lower bound over the dense top-K plus one tail bucket" : "exact (K = vocab)");
	}
	if (r->accuracy_note[0])
		pb_yaml_kv(y, "note", "%s", r->accuracy_note);
	pb_yaml_map_end(y);
	pb_yaml_seq_begin(y, "probes");
	for (int i = 0; i < r->n_probes; i++) {
		pb_yaml_map_begin(y, NULL);
		pb_yaml_kv(y, "name", "%s", r->probes[i].name);
		if (r->probes[i].why[0])
			pb_yaml_kv(y, "status", "unavailable: %s", r->probes[i].why);
		else
			pb_yaml_kv(y, "status", "ok");
		if (!r->probes[i].why[0])
			probe_details(y, e, r->probes[i].name);
		pb_yaml_map_end(y);
	}
	pb_yaml_seq_end(y);
	measurement(y, r);
	if (r->backend_details)
		pb_yaml_kv_yaml(y, "backend_details", r->backend_details);
	pb_yaml_map_begin(y, "timings");
	pb_yaml_kv(y, "load_ms", "%.3f", r->load_ms);
	pb_yaml_kv(y, "compress_ms", "%.3f", r->compress_ms);
	pb_yaml_kv(y, "weights_load_ms", "%.3f", r->weights_load_ms);
	pb_yaml_kv(y, "measure_ms", "%.3f", r->measure_ms);
	pb_yaml_kv(y, "reference_ms", "%.3f", r->reference_ms);
	pb_yaml_kv(y, "score_ms", "%.3f", r->score_ms);
	pb_yaml_map_end(y);
	pb_yaml_kv(y, "start_time", "%s", r->start_time);
	pb_iso8601_now(now, sizeof now);
	pb_yaml_kv(y, "end_time", "%s", now);
	return pb_yaml_close(y);
}

