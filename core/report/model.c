/* core/report/model.c — what the report shows: cells grouped by model ×
 * dataset × backend, each group's baseline chain, the tables' metrics
 * (which summary.csv columns, in which unit, which way is better) and
 * how a value and its change against the baseline are written. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report-internal.h"
#include "results/results.h"
#include "util/util.h"

static double get_speedup(const struct pb_rep *r, const struct pb_rep_group *g,
			  const struct pb_rep_cell *c, const struct pb_rep_metric *m)
{
	(void)m;
	return pb_rep_speedup(r, g, c);
}

/* The hottest sensor: several temperature channels (GPU, CPU zones) are
 * summarised by the one that ran hottest. */
static double hottest(const struct pb_rep_cell *c, const char *suffix)
{
	double best = NAN;
	size_t ls = strlen(suffix);
	for (int j = 0; c->summary && j < c->summary->ncols; j++) {
		const char *col = c->summary->header[j];
		size_t l = strlen(col);
		if (l <= ls || strcmp(col + l - ls, suffix))
			continue;
		double v = pb_rep_num(c, col);
		if (!isnan(v) && (isnan(best) || v > best))
			best = v;
	}
	return best;
}

static double get_temp_mean(const struct pb_rep *r, const struct pb_rep_group *g,
			    const struct pb_rep_cell *c, const struct pb_rep_metric *m)
{
	(void)r, (void)g, (void)m;
	return hottest(c, "_temp_c_mean");
}

static double get_temp_max(const struct pb_rep *r, const struct pb_rep_group *g,
			   const struct pb_rep_cell *c, const struct pb_rep_metric *m)
{
	(void)r, (void)g, (void)m;
	return hottest(c, "_temp_c_max");
}

static const char *text_formats(const struct pb_rep_cell *c)
{
	return c->formats[0] ? c->formats : pb_rep_str(c, "linear_formats");
}

#define T PB_K_TESTED
#define X PB_K_EXACT
#define P PB_K_PLAIN
#define LAT(stem, k) \
	{ stem "_mean", "mean (ms)", PB_F_NUM, k, 1, -1, NULL, NULL }, \
	{ stem "_std", "std (ms)", PB_F_NUM, P, 1, -1, NULL, NULL }, \
	{ stem "_cv", "CV", PB_F_NUM, P, 1, -1, NULL, NULL }, \
	{ stem "_p50", "p50 (ms)", PB_F_NUM, P, 1, -1, NULL, NULL }, \
	{ stem "_p90", "p90 (ms)", PB_F_NUM, P, 1, -1, NULL, NULL }, \
	{ stem "_p99", "p99 (ms)", PB_F_NUM, P, 1, -1, NULL, NULL }

static const struct pb_rep_table table_templates[] = {
	{ "End-to-end latency per request", { LAT("e2e_ms", T) }, 6 },
	{ "Time to first token (TTFT)", { LAT("ttft_ms", T) }, 6 },
	{ "Time per output token (TPOT)", { LAT("tpot_ms", T) }, 6 },
	{ "GPU time per request (device timestamps)", {
		{ "gpu_prefill_ms_mean", "prefill mean (ms)", PB_F_NUM, P, 1, -1, NULL, NULL },
		{ "gpu_prefill_ms_p99", "prefill p99 (ms)", PB_F_NUM, P, 1, -1, NULL, NULL },
		{ "gpu_decode_ms_mean", "decode mean (ms)", PB_F_NUM, P, 1, -1, NULL, NULL },
		{ "gpu_decode_ms_p99", "decode p99 (ms)", PB_F_NUM, P, 1, -1, NULL, NULL },
	}, 4 },
	{ "Throughput", {
		{ "prefill_tok_s_mean", "prefill (tok/s)", PB_F_NUM, T, 1, 1, NULL, NULL },
		{ "decode_tok_s_mean", "decode (tok/s)", PB_F_NUM, T, 1, 1, NULL, NULL },
		{ "requests_s", "requests/s", PB_F_NUM, P, 1, 1, NULL, NULL },
		{ "e2e_ms_mean", "speed-up (×, e2e)", PB_F_NUM, P, 0, 0, get_speedup, NULL },
	}, 4 },
	{ "Accuracy", {
		{ "perplexity", "perplexity", PB_F_NUM, X, 1, -1, NULL, NULL },
		{ "agreement_top1", "top-1 agreement with dense", PB_F_NUM, X, 0, 0, NULL, NULL },
		{ "kl_mean", "KL vs dense (nats)", PB_F_NUM, X, 0, 0, NULL, NULL },
		{ "exact_match", "exact match", PB_F_NUM, X, 1, 1, NULL, NULL },
		{ "token_f1", "token F1", PB_F_NUM, X, 1, 1, NULL, NULL },
		{ "rouge_l", "ROUGE-L", PB_F_NUM, X, 1, 1, NULL, NULL },
	}, 6 },
	{ "Model size and formats", {
		{ "sparsity_achieved", "sparsity", PB_F_PCT, X, 0, 0, NULL, NULL },
		{ "params_removed_pct", "params removed (%)", PB_F_NUM, X, 0, 0, NULL, NULL },
		{ "params_total", "parameters", PB_F_SI, X, 1, -1, NULL, NULL },
		{ "params_nonzero", "non-zero parameters", PB_F_SI, X, 1, -1, NULL, NULL },
		{ "weight_bytes", "weights (MiB)", PB_F_MIB, X, 1, -1, NULL, NULL },
		{ "bits_per_weight", "bits/weight", PB_F_NUM, X, 1, -1, NULL, NULL },
		{ "linear_formats", "executed formats (block linears)", PB_F_TEXT, P, 0, 0, NULL,
		  text_formats },
	}, 7 },
	{ "Resources and energy", {
		{ "proc_cpu_pct_mean", "CPU (%)", PB_F_NUM, T, 1, 0, NULL, NULL },
		{ "rss_peak_bytes_max", "peak RSS (MiB)", PB_F_MIB, T, 1, -1, NULL, NULL },
		{ "other_cpu_pct_mean", "others' CPU (% of a core)", PB_F_NUM, P, 0, 0, NULL, NULL },
		{ "loadavg_1m_max", "load average max", PB_F_NUM, P, 0, 0, NULL, NULL },
		{ "cpu_freq_mhz_mean", "CPU clock (MHz)", PB_F_NUM, P, 0, 0, NULL, NULL },
		/* energy columns are added per group; temperature last */
	}, 5 },
};

static const struct pb_rep_metric temp_metrics[] = {
	{ "", "temperature mean (°C, hottest sensor)", PB_F_NUM, P, 1, -1, get_temp_mean, NULL },
	{ "", "temperature max (°C, hottest sensor)", PB_F_NUM, P, 1, -1, get_temp_max, NULL },
};

/* Accuracy for the charts: the first one the group has. */
static const struct { const char *col, *title; int better; } chart_acc[] = {
	{ "perplexity", "perplexity (lower is better)", -1 },
	{ "rouge_l", "ROUGE-L (higher is better)", 1 },
	{ "token_f1", "token F1 (higher is better)", 1 },
	{ "exact_match", "exact match (higher is better)", 1 },
	{ "agreement_top1", "top-1 agreement with dense (higher is better)", 1 },
	{ "kl_mean", "KL divergence vs dense (nats, lower is better)", -1 },
};

int pb_rep_col_used(const char *col)
{
	static const char *const suffixes[] = { "_mean", "_max", "_per_token" };
	static const char *const more[] = {
		"rss_peak_bytes_measure", "sparsity_linears", "synthetic_weights", "rounds",
		"contended", "contention_threshold_pct", "min_effect_pct",
		/* remote cells and their load (serving.c) */
		"remote", "requests_failed", "load_concurrency", "offered_rps", "offered_rps_actual",
		"achieved_rps", "output_tok_s", "load_window_s", "in_flight_max", "goodput_share",
		"goodput_rps", "slo_ttft_ms", "slo_tpot_ms", "ttft_ms_p50", "ttft_ms_p90",
		"ttft_ms_p99", "itl_ms_p50", "itl_ms_p90", "itl_ms_p99", "tpot_ms_p50", "e2e_ms_p50",
		"client_queue_ms_p50", "client_queue_ms_p99",
	};
	size_t l = strlen(col);
	for (size_t k = 0; k < PB_ARRAY_LEN(more); k++)
		if (!strcmp(col, more[k]))
			return 1;
	for (size_t t = 0; t < PB_ARRAY_LEN(table_templates); t++)
		for (int k = 0; k < table_templates[t].n; k++)
			if (table_templates[t].m[k].fmt != PB_F_TEXT && !strcmp(col, table_templates[t].m[k].col))
				return 1;
	for (size_t s = 0; s < PB_ARRAY_LEN(suffixes); s++) {
		size_t ls = strlen(suffixes[s]);
		if (l > ls && !strcmp(col + l - ls, suffixes[s]))
			return 1;
	}
	return 0;
}

double pb_rep_metric_value(const struct pb_rep *r, const struct pb_rep_group *g,
			   const struct pb_rep_cell *c, const struct pb_rep_metric *m)
{
	if (m->get)
		return m->get(r, g, c, m);
	return pb_rep_num(c, m->col);
}

int pb_rep_metric_present(const struct pb_rep *r, const struct pb_rep_group *g,
			  const struct pb_rep_metric *m)
{
	for (int i = 0; i < g->n; i++) {
		const struct pb_rep_cell *c = &r->cells[g->cells[i]];
		if (m->fmt == PB_F_TEXT ? m->text(c)[0] != '\0' : !isnan(pb_rep_metric_value(r, g, c, m)))
			return 1;
	}
	return 0;
}

double pb_rep_speedup(const struct pb_rep *r, const struct pb_rep_group *g, const struct pb_rep_cell *c)
{
	if (g->baseline < 0)
		return NAN;
	double b = pb_rep_num(&r->cells[g->baseline], "e2e_ms_mean"), v = pb_rep_num(c, "e2e_ms_mean");
	return v > 0 && b > 0 ? b / v : NAN;
}

const char *pb_rep_label(const struct pb_rep_group *g, const struct pb_rep_cell *c)
{
	(void)g;
	return c->pruner;
}

void pb_rep_fmt_num(char *buf, size_t len, double v, enum pb_rep_fmt f)
{
	if (isnan(v)) {
		snprintf(buf, len, "—");
		return;
	}
	switch (f) {
	case PB_F_SI: {
		static const char *const si[] = { "", " k", " M", " G", " T" };
		int k = 0;
		while (fabs(v) >= 1000 && k < 4) {
			v /= 1000;
			k++;
		}
		snprintf(buf, len, "%.4g%s", v, si[k]);
		return;
	}
	case PB_F_MIB:
		v /= 1024.0 * 1024.0;
		break;
	case PB_F_PCT:
		snprintf(buf, len, "%.1f %%", v * 100);
		return;
	default:
		break;
	}
	if (isinf(v))
		snprintf(buf, len, "%s", v > 0 ? "inf" : "-inf");
	else if (fabs(v) >= 1e4 && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.4g", v);
}

const char *pb_rep_verdict_mark(enum pb_rep_verdict vd)
{
	switch (vd) {
	case PB_V_EXACT: return "exact";
	case PB_V_VARIES: return "not exact: varies by round";
	case PB_V_NO_TEST: return "1 round: no test";
	case PB_V_NOT_REAL: return "n.s.";
	case PB_V_REAL: return "real";
	default: return "";
	}
}

/* A deterministic column whose rounds disagree is not deterministic. */
static int rounds_vary(const struct pb_rep_cell *c, const char *col)
{
	double first = NAN;
	for (int k = 0; c->rounds && k < c->n_rounds; k++) {
		double x = pb_rep_round_num(c, k, col);
		if (isnan(x))
			continue;
		if (isnan(first))
			first = x;
		else if (fabs(x - first) > 1e-12 * fmax(fabs(x), fabs(first)))
			return 1;
	}
	return 0;
}

void pb_rep_format(const struct pb_rep_view *vw, const struct pb_rep_group *g, int cell,
		   const struct pb_rep_metric *m, struct pb_rep_cellfmt *out)
{
	const struct pb_rep *r = vw->r;
	const struct pb_rep_cell *c = &r->cells[cell];
	memset(out, 0, sizeof *out);
	out->contended = pb_rep_contended(c);
	if (m->fmt == PB_F_TEXT) {
		const char *t = m->text(c);
		snprintf(out->value, sizeof out->value, "%s", t[0] ? t : "—");
		return;
	}
	double v = pb_rep_metric_value(r, g, c, m);
	pb_rep_fmt_num(out->value, sizeof out->value, v, m->fmt);
	int ref = pb_rep_ref_of(vw, g, cell);
	if (m->kind == PB_K_EXACT && !isnan(v) && rounds_vary(c, m->col))
		out->verdict = PB_V_VARIES;
	if (!m->delta || ref < 0 || isnan(v))
		return;
	const struct pb_rep_cell *b = &r->cells[ref];
	double bv = pb_rep_metric_value(r, g, b, m);
	if (isnan(bv) || bv == 0 || isinf(bv) || isinf(v))
		return;
	double pct = (v - bv) / fabs(bv) * 100;
	if (fabs(pct) < 0.05)
		pct = 0;    /* no "-0.0 %" */
	if (pct >= 900)     /* +5063824.9 % reads worse than ×50639 */
		snprintf(out->change, sizeof out->change, "×%.3g", v / bv);
	else
		snprintf(out->change, sizeof out->change, "%+.1f %%", pct);
	if (m->better && pct != 0)
		out->sign = (pct > 0) == (m->better > 0) ? 1 : -1;
	if (m->kind == PB_K_EXACT) {
		if (out->verdict != PB_V_VARIES && !rounds_vary(b, m->col))
			out->verdict = PB_V_EXACT;
		else
			out->verdict = PB_V_VARIES;
		return;
	}
	if (m->kind != PB_K_TESTED) {
		out->sign = 0;     /* a plain difference: not coloured as a finding */
		return;
	}
	const struct pb_rep_cmp *k = pb_rep_cmp_find(vw, cell, m->col);
	if (!k)
		return;
	out->contended = out->contended || k->contended;
	if (k->e.n < 2 || isnan(k->e.p)) {
		out->verdict = PB_V_NO_TEST;
		out->sign = 0;
	} else {
		pb_rep_fmt_effect(out->change, sizeof out->change, &k->e);
		out->verdict = k->real ? PB_V_REAL : PB_V_NOT_REAL;
		if (!k->real || k->e.pct == 0)
			out->sign = 0;
		else
			out->sign = (k->e.pct > 0) == (m->better > 0) ? 1 : -1;
		if (!m->better)
			out->sign = 0;
	}
	const struct pb_rep_cmp *aa = k->aa ? NULL : pb_rep_cmp_aa(vw, g, m->col);
	if (aa && aa->e.n >= 2 && !isnan(aa->e.lo_pct))
		snprintf(out->aa, sizeof out->aa, "A/A %+.1f ± %.1f %%", aa->e.pct,
			 (aa->e.hi_pct - aa->e.lo_pct) / 2);
}

/* ---- groups */

static int same_group(const struct pb_rep_cell *a, const struct pb_rep_cell *b)
{
	return !strcmp(a->model, b->model) && !strcmp(a->dataset, b->dataset) &&
	       !strcmp(a->backend, b->backend);
}

static struct pb_rep_view *sort_view;   /* qsort has no context argument */

static int cmp_member(const void *a, const void *b)
{
	const struct pb_rep_cell *x = &sort_view->r->cells[*(const int *)a];
	const struct pb_rep_cell *y = &sort_view->r->cells[*(const int *)b];
	int c = strverscmp(x->pruner, y->pruner);
	return c ? c : strcmp(x->id, y->id);
}

static int is_baseline(const struct pb_rep_cell *c, const char *name)
{
	if (c->aa_of[0])
		return 0;      /* an A/A twin repeats the baseline; it is not one */
	return name ? !strcmp(c->pruner, name) : c->method[0] == '\0';
}

static void add_energy(struct pb_rep_group *g, const struct pb_rep_cell *c)
{
	yaml_node_t *e = pb_rep_manifest_node(c, "measurement.energy");
	yaml_document_t *d = (yaml_document_t *)&c->doc;
	if (!e || e->type != YAML_SEQUENCE_NODE)
		return;
	for (yaml_node_item_t *it = e->data.sequence.items.start; it < e->data.sequence.items.top; it++) {
		yaml_node_t *src = yaml_document_get_node(d, *it);
		yaml_node_t *ch = pb_rep_yaml_get(d, src, "channel"), *m = pb_rep_yaml_get(d, src, "method");
		if (!ch || ch->type != YAML_SCALAR_NODE || ch->data.scalar.length >= sizeof g->energy[0])
			continue;
		const char *name = (const char *)ch->data.scalar.value;
		int counter = m && m->type == YAML_SCALAR_NODE &&
			!strcmp((const char *)m->data.scalar.value, "counter");
		int k = 0;
		while (k < g->n_energy && strcmp(g->energy[k], name))
			k++;
		if (k < g->n_energy || k == PB_REP_MAX_ENERGY)
			continue;
		if (counter) {
			/* counters (RAPL, NVML total energy) are exact: list them
			 * first, so the summary's energy column is one */
			memmove(g->energy[1], g->energy[0], (size_t)k * sizeof g->energy[0]);
			memmove(g->energy_col[1], g->energy_col[0], (size_t)k * sizeof g->energy_col[0]);
			memmove(g->energy_head[1], g->energy_head[0], (size_t)k * sizeof g->energy_head[0]);
			k = 0;
		}
		snprintf(g->energy[k], sizeof g->energy[k], "%s", name);
		/* column names as the sampler writes them (sampler-energy.c) */
		snprintf(g->energy_col[k][0], sizeof g->energy_col[k][0],
			 counter ? "%s_per_token" : "%s_energy_j_per_token", name);
		snprintf(g->energy_col[k][1], sizeof g->energy_col[k][1],
			 counter ? "%s_power_w_mean" : "%s_mean", name);
		snprintf(g->energy_head[k][0], sizeof g->energy_head[k][0], "energy/token (J, %s)", name);
		snprintf(g->energy_head[k][1], sizeof g->energy_head[k][1], "mean power (W, %s)", name);
		g->n_energy++;
	}
}

/* The headline table first: the few numbers a reader looks for, each
 * with its change; the detailed tables follow. */
static void build_summary(struct pb_rep_table *t, const struct pb_rep_group *g)
{
	static const struct pb_rep_metric head[] = {
		{ "e2e_ms_mean", "e2e latency mean (ms)", PB_F_NUM, T, 1, -1, NULL, NULL },
		{ "ttft_ms_mean", "TTFT mean (ms)", PB_F_NUM, T, 1, -1, NULL, NULL },
		{ "tpot_ms_mean", "TPOT mean (ms)", PB_F_NUM, T, 1, -1, NULL, NULL },
		{ "decode_tok_s_mean", "decode (tok/s)", PB_F_NUM, T, 1, 1, NULL, NULL },
		{ "sparsity_achieved", "sparsity", PB_F_PCT, X, 0, 0, NULL, NULL },
		{ "weight_bytes", "weights (MiB)", PB_F_MIB, X, 1, -1, NULL, NULL },
	};
	*t = (struct pb_rep_table){ .title = "Summary" };
	for (size_t k = 0; k < PB_ARRAY_LEN(head); k++)
		t->m[t->n++] = head[k];
	if (g->acc_col)
		t->m[t->n++] = (struct pb_rep_metric){ g->acc_col, g->acc_title, PB_F_NUM, X,
			!strcmp(g->acc_col, "perplexity") || g->acc_better == 1, g->acc_better, NULL, NULL };
	if (g->n_energy)
		t->m[t->n++] = (struct pb_rep_metric){ g->energy_col[0][0], g->energy_head[0][0], PB_F_NUM,
			T, 1, -1, NULL, NULL };
}

static int build_tables(struct pb_rep *r, struct pb_rep_group *g)
{
	g->n_tables = (int)PB_ARRAY_LEN(table_templates) + 1;
	g->tables = malloc(sizeof table_templates + sizeof *g->tables);
	if (!g->tables)
		return -ENOMEM;
	memcpy(g->tables + 1, table_templates, sizeof table_templates);
	struct pb_rep_table *res = &g->tables[g->n_tables - 1];
	for (int k = 0; k < g->n_energy; k++) {
		res->m[res->n++] = (struct pb_rep_metric){ g->energy_col[k][0], g->energy_head[k][0],
			PB_F_NUM, T, 1, -1, NULL, NULL };
		res->m[res->n++] = (struct pb_rep_metric){ g->energy_col[k][1], g->energy_head[k][1],
			PB_F_NUM, T, 1, 0, NULL, NULL };
	}
	res->m[res->n++] = temp_metrics[0];
	res->m[res->n++] = temp_metrics[1];
	/* the columns the cells have: sparsity over the linears (2:4 packed
	 * zeros included) and the measure phase's RSS peak, when written */
	struct pb_rep_metric probe = { .col = "sparsity_linears", .fmt = PB_F_NUM };
	int linears = pb_rep_metric_present(r, g, &probe);
	probe.col = "rss_peak_bytes_measure";
	g->rss_col = pb_rep_metric_present(r, g, &probe) ? "rss_peak_bytes_measure" : "rss_peak_bytes_max";
	for (int t = 1; t < g->n_tables; t++)
		for (int k = 0; k < g->tables[t].n; k++) {
			struct pb_rep_metric *m = &g->tables[t].m[k];
			if (linears && !strcmp(m->col, "sparsity_achieved")) {
				m->col = "sparsity_linears";
				m->head = "sparsity (linears)";
			}
			if (!strcmp(m->col, "rss_peak_bytes_max") && !strcmp(g->rss_col, "rss_peak_bytes_measure")) {
				m->col = g->rss_col;
				m->head = "peak RSS, measure phase (MiB)";
			}
		}
	for (int i = 0; i < g->n; i++) {
		const struct pb_rep_cell *c = &r->cells[g->cells[i]];
		g->synthetic |= pb_rep_num(c, "synthetic_weights") == 1;
		g->has_aa |= c->aa_of[0] != '\0';
		if (c->n_rounds > g->max_rounds)
			g->max_rounds = c->n_rounds;
	}
	if (g->synthetic) {
		/* random weights: agreement of argmaxes means nothing, the KL
		 * (how far the distributions moved) goes first */
		struct pb_rep_table *acc = &g->tables[1];
		while (acc < g->tables + g->n_tables - 1 && strcmp(acc->title, "Accuracy"))
			acc++;
		for (int k = 0; k < acc->n; k++)
			if (!strcmp(acc->m[k].col, "kl_mean")) {
				struct pb_rep_metric kl = acc->m[k];
				memmove(&acc->m[1], &acc->m[0], (size_t)k * sizeof acc->m[0]);
				acc->m[0] = kl;
			}
		for (int k = 0; k < acc->n; k++)
			if (!strcmp(acc->m[k].col, "agreement_top1"))
				acc->m[k].head = "top-1 agreement with dense (random weights: not meaningful)";
	}
	/* synthetic weights: KL (the last entry) first, agreement never */
	size_t n_acc = PB_ARRAY_LEN(chart_acc);
	for (size_t i = 0; i < n_acc; i++) {
		size_t a = g->synthetic ? (i + n_acc - 1) % n_acc : i;
		struct pb_rep_metric m = { .col = chart_acc[a].col, .fmt = PB_F_NUM };
		if (g->synthetic && !strcmp(m.col, "agreement_top1"))
			continue;
		if (pb_rep_metric_present(r, g, &m)) {
			g->acc_col = chart_acc[a].col;
			g->acc_title = chart_acc[a].title;
			g->acc_better = chart_acc[a].better;
			break;
		}
	}
	build_summary(&g->tables[0], g);
	for (int k = 0; linears && k < g->tables[0].n; k++)
		if (!strcmp(g->tables[0].m[k].col, "sparsity_achieved")) {
			g->tables[0].m[k].col = "sparsity_linears";
			g->tables[0].m[k].head = "sparsity (linears)";
		}
	return 0;
}

void pb_rep_view_free(struct pb_rep_view *v)
{
	for (int i = 0; i < v->n_groups; i++) {
		free(v->groups[i].cells);
		free(v->groups[i].tables);
	}
	free(v->groups);
	free(v->cmps);
	memset(v, 0, sizeof *v);
}

int pb_rep_view_build(struct pb_rep *r, const char *baseline, const char *cell,
		      struct pb_rep_view *v, char *err, size_t len)
{
	int found_baseline = 0;

	memset(v, 0, sizeof *v);
	v->r = r;
	v->baseline_name = baseline;
	v->series_cell = -1;
	v->groups = calloc((size_t)r->n_cells, sizeof *v->groups);
	if (!v->groups)
		return pb_errf(err, len, -ENOMEM, "out of memory");
	for (int i = 0; i < r->n_cells; i++) {
		const struct pb_rep_cell *c = &r->cells[i];
		if (c->failed)
			continue;
		int k = 0;
		while (k < v->n_groups && !same_group(&r->cells[v->groups[k].cells[0]], c))
			k++;
		struct pb_rep_group *g = &v->groups[k];
		if (k == v->n_groups) {
			v->n_groups++;
			g->model = c->model;
			g->dataset = c->dataset;
			g->backend = c->backend;
			g->baseline = -1;
			if (!(g->cells = malloc((size_t)r->n_cells * sizeof *g->cells)))
				goto oom;
		}
		g->cells[g->n++] = i;
	}
	for (int k = 0; k < v->n_groups; k++) {
		struct pb_rep_group *g = &v->groups[k];
		sort_view = v;
		qsort(g->cells, (size_t)g->n, sizeof *g->cells, cmp_member);
		for (int i = 0; i < g->n; i++) {
			if (g->baseline < 0 && is_baseline(&r->cells[g->cells[i]], baseline)) {
				/* the baseline goes first */
				g->baseline = g->cells[i];
				memmove(g->cells + 1, g->cells, (size_t)i * sizeof *g->cells);
				g->cells[0] = g->baseline;
				found_baseline = 1;
			}
		}
		for (int i = 0; i < g->n; i++)
			add_energy(g, &r->cells[g->cells[i]]);
		if (build_tables(r, g) < 0)
			goto oom;
	}
	if (baseline && !found_baseline) {
		pb_rep_view_free(v);
		return pb_errf(err, len, -EINVAL, "--baseline %s: no done cell has that chain (the "
			       "pruner axis names are in summary.csv's 'pruner' column)", baseline);
	}
	if (cell) {
		for (int i = 0; i < r->n_cells; i++)
			if (!strcmp(r->cells[i].id, cell))
				v->series_cell = i;
		if (v->series_cell < 0 || r->cells[v->series_cell].failed) {
			pb_rep_view_free(v);
			return pb_errf(err, len, -EINVAL, "--cell %s: no done cell with that id in %s/cells",
				       cell, r->dir);
		}
	} else {
		/* the first group's baseline, else its first cell, that has
		 * probe readings */
		for (int k = 0; k < v->n_groups && v->series_cell < 0; k++)
			for (int i = 0; i < v->groups[k].n && v->series_cell < 0; i++) {
				char path[4096];
				int idx = v->groups[k].cells[i];
				pb_path_join(path, sizeof path, r->cells[idx].dir, "probes.csv");
				if (access(path, R_OK) == 0)
					v->series_cell = idx;
			}
	}
	for (int i = 0; i < r->n_cells; i++)
		v->n_contended += !r->cells[i].failed && pb_rep_contended(&r->cells[i]);
	if (pb_rep_compare(v) < 0)
		goto oom;
	return 0;
oom:
	pb_rep_view_free(v);
	return pb_errf(err, len, -ENOMEM, "out of memory");
}
