/* core/run/cell.c — one cell's pipeline, run in a forked child:
 * load → dense reference → compress → backend weights → warm up → measure
 * → score → record.
 *
 * The dense reference (reference.h) is read or computed from the model
 * before compression, on the `ref` backend; the score phase then feeds the
 * cell's own session the same sequences, teacher-forced.
 *
 * Everything is written into the cell's .tmp folder; the parent renames it
 * into place only after this returns 0, so a crash anywhere here can never
 * leave a folder that looks done.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pb-config.h"
#include "arch/arch.h"
#include "metrics/stats.h"
#include "model/modelio.h"
#include "plugin/host.h"
#include "results/results.h"
#include "run/calib.h"
#include "run/cell-internal.h"
#include "run/cell-probes.h"
#include "run/cell-record.h"
#include "run/generate.h"
#include "run/reference.h"
#include "run/run.h"
#include "run/sampler.h"
#include "text/text.h"
#include "util/util.h"

void pb_cell_set_phase(struct pb_cell_ctx *x, enum pb_phase p)
{
	char line[64];
	x->phase = p;
	if (x->sampler)
		pb_sampler_phase(x->sampler, p);
	if (x->status_fd >= 0) {
		int n = snprintf(line, sizeof line, "phase %s\n", pb_phase_name(p));
		if (write(x->status_fd, line, (size_t)n) < 0) {
			/* the parent is gone or not listening: progress is optional */
		}
	}
}

static void on_gen_phase(void *ctx, int phase)
{
	pb_cell_set_phase(ctx, (enum pb_phase)phase);
}

/* Before the measured requests: the throttle check's reference (warm-up
 * window [tw0, tw1], trip points from the probes' describe()), the
 * cooldown wait, the wait for a quiet machine (--wait-quiet) and the idle
 * baseline — in that order, so the baseline is taken on a cooled, quiet
 * machine. */
void pb_cell_measure_conditions(struct pb_cell_ctx *x, struct pb_cell_record *rec, void **states,
				double tw0, double tw1)
{
	const struct pb_experiment *e = x->e;
	enum { DESCRIBE_MAX = 32768 };
	char *text = malloc(DESCRIBE_MAX);

	for (int i = 0; text && i < e->n_probes; i++) {
		const struct pb_probe_ops *ops = e->probes[i].plugin->desc->ops;
		if (states[i] && ops->describe && ops->describe(states[i], text, DESCRIBE_MAX) == 0)
			pb_throttle_add_trips(&rec->throttle, text);
	}
	free(text);
	pb_throttle_set_reference(&rec->throttle, x->sampler, e->throttle_pct, tw0, tw1);
	rec->throttle_set = 1;
	if (e->cooldown) {
		struct pb_cooldown_result *c = &rec->cooldown;
		pb_cooldown_wait(x->sampler, e->cooldown_max_temp_c, e->cooldown_timeout_s, NULL, c);
		if (!c->n_channels)
			pb_log(PB_LOG_WARN, "cooldown: no probe reports a temperature; not waiting");
		else
			pb_log(c->timed_out ? PB_LOG_WARN : PB_LOG_INFO,
			       "cooldown: %.1f s, hottest %.1f → %.1f C%s", c->waited_ms / 1e3,
			       c->start_c, c->end_c, c->timed_out ? " (timed out)" : "");
	}
	if (pb_wait_quiet_get() > 0)
		pb_cell_wait_quiet(e, x->sampler, &rec->quiet);
	if (e->idle_baseline_s > 0) {
		double t0, t1;
		rec->baseline_s = e->idle_baseline_s;
		rec->baseline_channels = pb_idle_baseline(x->sampler, e->idle_baseline_s, NULL,
							  &t0, &t1);
		pb_log(PB_LOG_INFO, "idle baseline: %.1f s, idle power of %d energy channel%s",
		       (t1 - t0) / 1e3, rec->baseline_channels,
		       rec->baseline_channels == 1 ? "" : "s");
	}
}

static void on_calib_gather(void *ctx, int active)
{
	pb_cell_set_phase(ctx, active ? PB_PHASE_CALIBRATE : PB_PHASE_COMPRESS);
}

/* The calibration handle of a step whose pruner asks for one: windows
 * from the cell's dataset (the pruner's nsamples/seqlen options, else the
 * dataset's `calibration: {count, seqlen}`), run on the `ref` backend. */
static int open_calib(struct pb_cell_ctx *x, struct pb_model *m, const struct pb_dataset *ds,
		      const struct pb_step *st, int s, struct pb_calib **out)
{
	const struct pb_plugin *p = st->plugin->desc;
	const struct pb_dataset_spec *dsp = x->c->dataset;
	const struct pb_plugin_entry *ref = x->e->registry ?
		pb_registry_find(x->e->registry, PB_BACKEND, "ref") : NULL;
	int32_t *tok = NULL;
	char err[1024];
	int n_seq, seqlen, rc;
	if (!ref) {
		pb_log(PB_LOG_ERROR, "pruner '%s' needs calibration, which runs on the 'ref' backend, "
		       "and no 'ref' backend is registered", p->name);
		return -ENOENT;
	}
	pb_calib_sizes(p, st->config, dsp->calib_count, dsp->calib_seqlen, &n_seq, &seqlen);
	if (seqlen > m->hp.ctx) {
		pb_log(PB_LOG_WARN, "pruner '%s': calibration windows of %d tokens cut to %s's context of %d",
		       p->name, seqlen, m->name, m->hp.ctx);
		seqlen = m->hp.ctx;
	}
	if ((rc = pb_calib_dataset_tokens(ds, pb_model_tokenizer(m), dsp->name, n_seq, seqlen, &tok,
					  err, sizeof err)) < 0) {
		pb_log(PB_LOG_ERROR, "pruner '%s': %s", p->name, err);
		return rc;
	}
	struct pb_calib_opts o = {
		.backend = ref->desc, .tokens = tok, .n_seq = n_seq, .seqlen = seqlen,
		.n_threads = pb_default_threads(), .seed = x->e->seed + (uint64_t)s,
		.on_gather = on_calib_gather, .ctx = x,
	};
	if ((rc = pb_calib_open(m, &o, out, err, sizeof err)) < 0)
		pb_log(PB_LOG_ERROR, "pruner '%s': %s", p->name, err);
	else
		pb_log(PB_LOG_INFO, "pruner '%s': calibrating on %d windows of %d tokens from '%s'",
		       p->name, n_seq, seqlen, dsp->name);
	free(tok);
	return rc;
}

static int compress(struct pb_cell_ctx *x, struct pb_model *m, const struct pb_dataset *ds,
		    struct pb_cell_record *rec)
{
	const struct pb_chain *ch = x->c->chain;
	struct pb_prune_target *targets = NULL;
	char (*names)[PB_TENSOR_NAME_MAX] = NULL;
	int err = 0;

	for (int s = 0; s < ch->n_steps; s++) {
		const struct pb_step *st = &ch->steps[s];
		const struct pb_plugin *p = st->plugin->desc;
		const struct pb_pruner_ops *ops = p->ops;
		struct pb_host_ctx host;
		void *state = NULL;
		char why[512] = "";

		pb_host_init(&host, p->name, x->e->seed + (uint64_t)s, pb_default_threads());
		int n_before = m->n_tensors;
		targets = calloc((size_t)n_before, sizeof *targets);
		names = calloc((size_t)n_before, sizeof *names);
		if (!targets || !names) {
			err = -ENOMEM;
			goto out;
		}
		for (int i = 0; i < n_before; i++)
			memcpy(names[i], m->tensors[i].name, PB_TENSOR_NAME_MAX);
		for (int i = 0; i < m->n_tensors; i++)
			targets[i].sparsity = -1;
		err = p->init(&host.host, st->config, &state);
		if (err < 0) {
			pb_log(PB_LOG_ERROR, "pruner '%s': init failed: %s", p->name, strerror(-err));
			goto out;
		}
		if (ops->check && (err = ops->check(state, m, why, sizeof why)) < 0) {
			pb_log(PB_LOG_ERROR, "pruner '%s' cannot run on this model: %s", p->name, why);
			p->fini(state);
			goto out;
		}
		struct pb_calib *calib = NULL;
		if (pb_pruner_calib(ops, st->config) && (err = open_calib(x, m, ds, st, s, &calib)) < 0) {
			p->fini(state);
			goto out;
		}
		double t0 = pb_now_ms();
		err = ops->apply(state, m, calib, targets);
		double dt = pb_now_ms() - t0, calib_ms = pb_calib_ms(calib);
		pb_cell_set_phase(x, PB_PHASE_COMPRESS);
		pb_calib_close(calib);
		p->fini(state);
		if (err < 0) {
			pb_log(PB_LOG_ERROR, "pruner '%s' failed: %s", p->name, strerror(-err));
			goto out;
		}
		if (calib_ms > 0)
			pb_log(PB_LOG_INFO, "step %d: %s in %.1f ms (calibration %.1f ms)", s + 1,
			       st->label, dt, calib_ms);
		else
			pb_log(PB_LOG_INFO, "step %d: %s in %.1f ms", s + 1, st->label, dt);
		pb_cell_record_targets(rec, (const char (*)[PB_TENSOR_NAME_MAX])names, n_before, targets);
		free(targets);
		free(names);
		targets = NULL;
		names = NULL;
	}
out:
	free(targets);
	free(names);
	return err;
}

/* The output as an answer: the text of the tokens before the first EOS
 * (generation runs on past EOS so that every request has the same length). */
static char *answer_text(const struct pb_tokenizer *tok, const struct pb_model *m,
			 const struct pb_gen_result *g)
{
	size_t cap = 256;
	char *text = malloc(cap);
	if (!text)
		return NULL;
	text[0] = '\0';
	for (int i = 0; i < g->n_out && g->tokens[i] != m->hp.eos_id; i++) {
		int rc;
		while ((rc = pb_detokenize(tok, g->tokens[i], text, cap)) == -ENOSPC) {
			char *p = realloc(text, cap * 2);
			if (!p) {
				free(text);
				return NULL;
			}
			text = p;
			cap *= 2;
		}
	}
	return text;
}

/* Score phase: the cell's session teacher-forced over the reference's
 * sequences (or, without a reference, the cell's own, for perplexity). */
static int score(struct pb_cell_ctx *x, struct pb_session *sess, const struct pb_model *m,
		 const struct pb_dataset *ds, const struct pb_reference *ref,
		 struct pb_cell_record *rec)
{
	const struct pb_experiment *e = x->e;
	struct pb_tf_set own = { 0 };
	char err[1024] = "";
	int rc;

	if (e->score_tokens <= 0)
		return 0;
	if (ds->kind == PB_DATASET_TEXT && m->hp.n_enc_layers > 0) {
		pb_sayf(rec->accuracy_note, sizeof rec->accuracy_note,
			"perplexity of an encoder-decoder model on raw text is not measured");
		return 0;
	}
	if (!ref && (rc = pb_tf_build(ds, x->c->dataset, m, e->score_tokens, e->max_new_tokens,
				      &own, err, sizeof err)) < 0) {
		pb_log(PB_LOG_ERROR, "score: %s", err);
		return rc;
	}
	rc = pb_tf_score(sess, m->hp.vocab, pb_model_live_vocab(m, NULL), ref ? &ref->set : &own, ref,
			 &rec->acc, err, sizeof err);
	pb_tf_set_free(&own);
	if (rc < 0) {
		pb_log(PB_LOG_ERROR, "score: %s", err);
		return rc;
	}
	rec->scored = 1;
	rec->vs_dense = ref != NULL;
	if (ref && ref->set.n_rows) {
		double s = 0;
		for (long i = 0; i < ref->set.n_rows; i++)
			s -= ref->target_logp[i];
		rec->perplexity_dense = exp(s / (double)ref->set.n_rows);
	}
	pb_log(PB_LOG_INFO, "score: %ld positions, perplexity %.4g, agreement %.4f, KL %.4g",
	       rec->acc.n_nll, pb_perplexity(&rec->acc), pb_agreement(&rec->acc),
	       pb_kl_mean(&rec->acc));
	return 0;
}

/* COMPRESS job: keep the chain's result for the rounds — the model as
 * GGUF and, beside it (<path>.targets), the time compression took and
 * each touched tensor's target sparsity.  Written as temporaries and
 * renamed, the GGUF last (its presence means both are complete). */
static int keep_compressed(const struct pb_model *m, const struct pb_cell_record *rec,
			   const char *path)
{
	char tmp[4500], targets[4500], ttmp[4600], err[1024];
	int rc;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	snprintf(targets, sizeof targets, "%s.targets", path);
	snprintf(ttmp, sizeof ttmp, "%s.tmp", targets);
	FILE *f = fopen(ttmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "compress_ms\t%.17g\n", rec->compress_ms);
	for (int i = 0; i < rec->n_tensors; i++)
		if (rec->tensors[i].target >= 0)
			fprintf(f, "%s\t%.17g\n", rec->tensors[i].name, rec->tensors[i].target);
	if (fclose(f) != 0 || rename(ttmp, targets) < 0)
		return -errno;
	if ((rc = pb_gguf_write(m, tmp, err, sizeof err)) < 0) {
		pb_log(PB_LOG_ERROR, "keeping the compressed model: %s", err);
		return rc;
	}
	return rename(tmp, path) < 0 ? -errno : 0;
}

/* MEASURE job of a multi-round cell: instead of compressing, take the
 * tensors of the model a COMPRESS job kept.  m (the dense model, already
 * recorded as "before") gets the kept tensor table and shapes; the kept
 * model owns their memory and must outlive m (*kept).  Tokenizer and
 * metadata stay m's own. */
static int take_compressed(struct pb_model *m, const char *path, struct pb_cell_record *rec,
			   struct pb_model **kept)
{
	char err[1024], targets[4500], line[512];
	struct pb_model *k = NULL;
	int rc;
	if ((rc = pb_model_load(path, &k, err, sizeof err)) < 0) {
		pb_log(PB_LOG_ERROR, "the compressed model kept for the rounds: %s", err);
		return rc;
	}
	struct pb_tensor *t = m->tensors;
	int n = m->n_tensors;
	m->tensors = k->tensors;
	m->n_tensors = k->n_tensors;
	k->tensors = t;
	k->n_tensors = n;
	struct pb_hparams hp = m->hp;
	m->hp = k->hp;
	k->hp = hp;
	*kept = k;
	pb_model_drop_tokenizer(k);   /* m's tokenizer is the one used */
	/* the dense weights (now k's table) are not used again: give their
	 * memory back, so that a compressed cell does not hold two models
	 * where the dense cell holds one (peak RSS would be an artifact) */
	long page = sysconf(_SC_PAGESIZE);
	for (int i = 0; i < k->n_tensors; i++) {   /* mapped: drop the pages */
		struct pb_tensor *d = &k->tensors[i];
		int owned = 0;
		for (int j = 0; j < k->n_tensors && !owned; j++)   /* an alias of owned memory */
			owned = (k->tensors[j].flags & PB_TENSOR_OWNED) && k->tensors[j].data == d->data;
		if (owned || !d->data || !d->nbytes)
			continue;
		uintptr_t a = ((uintptr_t)d->data + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
		uintptr_t b = ((uintptr_t)d->data + d->nbytes) & ~((uintptr_t)page - 1);
		if (b > a)
			madvise((void *)a, b - a, MADV_DONTNEED);
	}
	for (int i = 0; i < k->n_tensors; i++) {   /* allocated: free, once */
		struct pb_tensor *d = &k->tensors[i];
		if (!(d->flags & PB_TENSOR_OWNED))
			continue;
		void *p = d->data;
		free(p);
		for (int j = 0; j < k->n_tensors; j++)
			if (k->tensors[j].data == p) {
				k->tensors[j].data = NULL;
				k->tensors[j].flags &= ~PB_TENSOR_OWNED;
			}
	}

	snprintf(targets, sizeof targets, "%s.targets", path);
	FILE *f = fopen(targets, "r");
	if (!f) {
		rc = -errno;
		pb_log(PB_LOG_ERROR, "%s: %s", targets, strerror(errno));
		return rc;
	}
	char (*names)[PB_TENSOR_NAME_MAX] = calloc(1, sizeof *names);
	struct pb_prune_target *tg = calloc(1, sizeof *tg);
	while (names && tg && fgets(line, sizeof line, f)) {
		char *tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab++ = '\0';
		double v = strtod(tab, NULL);
		if (!strcmp(line, "compress_ms")) {
			rec->compress_ms = v;
			continue;
		}
		snprintf(names[0], PB_TENSOR_NAME_MAX, "%.*s", PB_TENSOR_NAME_MAX - 1, line);
		tg[0].sparsity = v;
		pb_cell_record_targets(rec, (const char (*)[PB_TENSOR_NAME_MAX])names, 1, tg);
	}
	fclose(f);
	rc = names && tg ? 0 : -ENOMEM;
	free(names);
	free(tg);
	return rc;
}

int pb_cell_execute(const struct pb_experiment *e, const struct pb_cell *c,
		    const struct pb_cell_job *job, const char *dir, int status_fd)
{
	struct pb_cell_ctx x = { .e = e, .c = c, .dir = dir, .status_fd = status_fd };
	struct pb_cell_record rec;
	struct pb_host_ctx probe_hosts[e->n_probes + 1];
	struct pb_probe_inst probe_inst[e->n_probes + 1];
	void *probe_states[e->n_probes + 1];
	struct pb_model *m = NULL, *kept = NULL;
	struct pb_dataset *ds = NULL;
	struct pb_reference *ref = NULL;
	struct pb_session *sess = NULL;
	void *bstate = NULL;
	const struct pb_plugin *bp = c->backend->step.plugin->desc;
	char err[1024] = "";
	int rc = -1, n_probes;

	memset(probe_states, 0, sizeof probe_states);
	pb_cell_record_init(&rec, e, c);
	rec.round = job->round;
	rec.n_rounds = job->n_rounds;
	rec.round_position = job->position;
	static const char *const what[] = { "cell", "dense reference of", "compression of" };
	pb_log(PB_LOG_INFO, "%s %s: %s × %s × %s × %s", what[job->kind], c->id, c->model->name,
	       c->dataset->name, c->chain->name, c->backend->name);
	if (job->n_rounds > 1 && job->kind == PB_JOB_MEASURE)
		pb_log(PB_LOG_INFO, "round %d of %d, position %d in the round", job->round,
		       job->n_rounds, job->position);

	/* a served cell's probes sample its server, from its start
	 * (cell-served.c); load and compression here are timed only */
	const int served = c->backend->serve;
	n_probes = served ? 0 : pb_cell_start_probes(e, &rec, probe_hosts, probe_inst, probe_states);
	if (!served && pb_sampler_start(&x.sampler, probe_inst, n_probes, PB_PHASE_LOAD) < 0) {
		pb_log(PB_LOG_ERROR, "cannot start the probe sampler");
		goto out;
	}
	/* a probe that could not start is left out, not why a cell fails:
	 * the error that explains a failure comes after this */
	pb_log_first_error_rearm();
	pb_cell_set_phase(&x, PB_PHASE_LOAD);
	if (pb_backend_is_remote(bp->ops)) {
		/* whole requests on a server: no model here (cell-remote.c) */
		rc = pb_cell_remote_run(&x, &rec, probe_states, job) < 0 ? -1 : 0;
		goto out;
	}

	double t0 = pb_now_ms();
	if (pb_input_model_load(c->model, &m, err, sizeof err) < 0) {
		pb_log(PB_LOG_ERROR, "model '%s': %s", c->model->name, err);
		goto out;
	}
	pb_cell_record_model(&rec, m, pb_now_ms() - t0);
	const struct pb_dataset_spec *dsp = c->dataset;
	struct pb_dataset_opts dopts;
	pb_input_dataset_opts(e, dsp, &dopts);
	if (pb_dataset_load(&dopts, &ds, err, sizeof err) < 0) {
		pb_log(PB_LOG_ERROR, "dataset '%s': %s", dsp->name, err);
		goto out;
	}
	pb_cell_record_dataset(&rec, ds);

	/* Teacher-forced scoring gives bit-identical results in every process
	 * (README "Bit-identical accuracy"), so a multi-round cell scores in
	 * round 1 only; later rounds cost measurement time only and leave the
	 * accuracy columns empty (rounds.c pools round 1's). */
	const int score_here = !(job->kind == PB_JOB_MEASURE && job->n_rounds > 1 && job->round > 1) &&
		!(served && job->kind == PB_JOB_MEASURE);
	rec.accuracy_from_round1 = !score_here && !served;
	/* (an encoder-decoder on raw text is not scored: no reference either) */
	if (job->kind != PB_JOB_COMPRESS && e->score_tokens > 0 && score_here &&
	    !(ds->kind == PB_DATASET_TEXT && m->hp.n_enc_layers > 0)) {
		pb_cell_set_phase(&x, PB_PHASE_SCORE);
		int rerr = pb_reference_get(e, c, ds, m, rec.model_sha256, &ref, err, sizeof err);
		if (rerr == -ENOENT) {
			pb_log(PB_LOG_WARN, "no agreement or KL against the dense model: %s", err);
			pb_sayf(rec.accuracy_note, sizeof rec.accuracy_note, "%s", err);
		} else if (rerr < 0) {
			pb_log(PB_LOG_ERROR, "dense reference: %s", err);
			goto out;
		} else {
			pb_log(PB_LOG_INFO, "dense reference %s in %.1f ms: %d sequences, %ld positions",
			       ref->cached ? "read" : "computed", ref->ms, ref->set.n, ref->set.n_rows);
			rec.reference_ms = ref->ms;
			rec.reference_cached = ref->cached;
			rec.top_k = ref->k;
			snprintf(rec.reference_dir, sizeof rec.reference_dir, "%s", ref->dir);
		}
	}

	if (job->kind == PB_JOB_REFERENCE) {
		rc = 0;
		goto out;
	}
	pb_cell_set_phase(&x, PB_PHASE_COMPRESS);
	if (job->kind == PB_JOB_MEASURE && job->compressed[0]) {
		if (take_compressed(m, job->compressed, &rec, &kept) < 0)
			goto out;
		pb_log(PB_LOG_INFO, "compressed model taken from %s (compressed once, in %.1f ms)",
		       job->compressed, rec.compress_ms);
	} else {
		t0 = pb_now_ms();
		if (compress(&x, m, ds, &rec) < 0)
			goto out;
		rec.compress_ms = pb_now_ms() - t0;
	}
	if (job->kind == PB_JOB_COMPRESS) {
		if (keep_compressed(m, &rec, job->compressed) < 0)
			goto out;
		rc = 0;
		goto out;
	}

	if (served) {
		rc = pb_cell_served_run(&x, &rec, &m, &kept, job, probe_hosts, probe_inst,
					probe_states) < 0 ? -1 : 0;
		goto out;
	}

	/* backend */
	struct pb_host_ctx bhost;
	const struct pb_backend_ops *bops = bp->ops;
	pb_host_init(&bhost, bp->name, e->seed, pb_default_threads());
	if (bp->available && bp->available(&bhost.host, err, sizeof err) < 0) {
		pb_log(PB_LOG_ERROR, "backend '%s' is not available: %s", bp->name, err);
		goto out;
	}
	if (pb_convert_for_backend(m, bops->formats) < 0) {
		pb_log(PB_LOG_ERROR, "backend '%s' runs none of the model's weight formats", bp->name);
		goto out;
	}
	int ierr = bp->init(&bhost.host, c->backend->step.config, &bstate);
	if (ierr < 0) {
		pb_log(PB_LOG_ERROR, "backend '%s': init failed: %s", bp->name, strerror(-ierr));
		bstate = NULL;
		goto out;
	}
	pb_cell_set_phase(&x, PB_PHASE_LOAD);
	t0 = pb_now_ms();
	if ((ierr = bops->weights_load(bstate, m)) < 0) {
		pb_log(PB_LOG_ERROR, "backend '%s': weights_load failed: %s", bp->name, strerror(-ierr));
		goto out;
	}
	if (pb_session_open(m, bops, bstate, &sess, err, sizeof err) < 0) {
		pb_log(PB_LOG_ERROR, "backend '%s': %s", bp->name, err);
		goto out;
	}
	rec.weights_load_ms = pb_now_ms() - t0;
	pb_cell_record_tensors(&rec, m, bops, bstate);

	const struct pb_tokenizer *tok = pb_model_tokenizer(m);
	struct pb_gen_request req = {
		.max_new_tokens = e->max_new_tokens,
		.stop_at_eos = 0,
		.add_bos = 1,
		.on_phase = on_gen_phase,
		.ctx = &x,
	};

	/* warm-up: the first prompts, not recorded; its CPU frequencies are
	 * the throttle check's reference */
	double tw0 = pb_sampler_now(x.sampler);
	for (int w = 0; w < e->warmup; w++) {
		struct pb_gen_result g;
		pb_cell_set_phase(&x, PB_PHASE_WARMUP);
		req.prompt = ds->samples[w % ds->n].input;
		req.on_phase = NULL;
		if (pb_generate(sess, m, tok, &req, &g, err, sizeof err) < 0) {
			pb_log(PB_LOG_ERROR, "warm-up request %d: %s", w, err);
			goto out;
		}
		pb_gen_result_free(&g);
	}

	double tw1 = pb_sampler_now(x.sampler);
	req.on_phase = on_gen_phase;
	pb_cell_set_phase(&x, PB_PHASE_IDLE);
	pb_cell_measure_conditions(&x, &rec, probe_states, tw0, tw1);
	double t_measure = pb_now_ms();
	for (int r = 0; r < e->repeat; r++)
		for (int i = 0; i < ds->n; i++) {
			struct pb_gen_result g;
			req.prompt = ds->samples[i].input;
			double ta = pb_sampler_now(x.sampler);
			if (pb_generate(sess, m, tok, &req, &g, err, sizeof err) < 0) {
				pb_log(PB_LOG_ERROR, "request %d (repeat %d): %s", i, r, err);
				goto out;
			}
			pb_cell_set_phase(&x, PB_PHASE_IDLE);   /* its boundary reading closes the request */
			double tb = pb_sampler_now(x.sampler);
			pb_cell_record_request(&rec, r, i, &g);
			pb_cell_record_throttled(&rec, pb_throttle_check(&rec.throttle, x.sampler, ta, tb));
			if (ds->samples[i].reference) {
				char *pred = answer_text(tok, m, &g);
				pb_cell_record_answer(&rec, pred ? pred : "", ds->samples[i].reference);
				free(pred);
			}
			pb_gen_result_free(&g);
		}
	rec.measure_ms = pb_now_ms() - t_measure;

	if (score_here) {
		pb_cell_set_phase(&x, PB_PHASE_SCORE);
		t0 = pb_now_ms();
		if (score(&x, sess, m, ds, ref, &rec) < 0)
			goto out;
		rec.score_ms = pb_now_ms() - t0;
	}
	pb_sampler_stop(x.sampler);
	if (pb_cell_record_write(&rec, x.sampler, dir) < 0)
		goto out;
	rc = 0;
out:
	if (x.sampler) {
		pb_sampler_stop(x.sampler);
		pb_sampler_free(x.sampler);
	}
	for (int i = 0; i < e->n_probes; i++)
		if (probe_states[i])
			e->probes[i].plugin->desc->fini(probe_states[i]);
	pb_session_close(sess);
	if (bstate)
		bp->fini(bstate);
	pb_reference_free(ref);
	pb_dataset_free(ds);
	pb_model_free(m);
	pb_model_free(kept);   /* after m: m's tensors live in its memory */
	pb_cell_record_free(&rec);
	return rc;
}
