/* core/report/compare.c — every comparison of a report, made once: for
 * each group, each chain against its reference (the baseline; an A/A
 * twin against the chain it repeats) on each tested metric, paired by
 * round (noise.c's log-ratio t test on the rounds' own means, against the
 * band of the smallest effect of interest when the experiment sets one), and the
 * Benjamini–Hochberg rule across all of them together, so a report with
 * many chains and metrics does not find effects by chance.  Tables and
 * pages only look the results up. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-internal.h"
#include "util/util.h"

int pb_rep_ref_of(const struct pb_rep_view *v, const struct pb_rep_group *g, int cell)
{
	const struct pb_rep_cell *c = &v->r->cells[cell];
	if (c->aa_of[0]) {
		for (int i = 0; i < g->n; i++) {
			const struct pb_rep_cell *o = &v->r->cells[g->cells[i]];
			if (g->cells[i] != cell && !o->aa_of[0] && !strcmp(o->pruner, c->aa_of))
				return g->cells[i];
		}
		return -1;    /* its original is not in the results (failed?) */
	}
	return g->baseline >= 0 && g->baseline != cell ? g->baseline : -1;
}

void pb_rep_fmt_effect(char *buf, size_t len, const struct pb_effect *e)
{
	if (isnan(e->pct))
		snprintf(buf, len, "—");
	else if (isnan(e->lo_pct))
		snprintf(buf, len, "%+.1f %%", e->pct);
	else
		snprintf(buf, len, "%+.1f %% [%+.1f, %+.1f]", e->pct, e->lo_pct, e->hi_pct);
}

const struct pb_rep_cmp *pb_rep_cmp_find(const struct pb_rep_view *v, int cell, const char *col)
{
	for (int i = 0; i < v->n_cmps; i++)
		if (v->cmps[i].cell == cell && !strcmp(v->cmps[i].col, col))
			return &v->cmps[i];
	return NULL;
}

const struct pb_rep_cmp *pb_rep_cmp_aa(const struct pb_rep_view *v, const struct pb_rep_group *g,
				       const char *col)
{
	int gi = (int)(g - v->groups);
	for (int i = 0; i < v->n_cmps; i++)
		if (v->cmps[i].aa && v->cmps[i].group == gi && !strcmp(v->cmps[i].col, col))
			return &v->cmps[i];
	return NULL;
}

/* Chain and reference values of the rounds both have (matched by round
 * number).  A round in which either cell ran contended measured the other
 * load as much as the chain: it is left out (*excluded counts it) when at
 * least PB_REP_MIN_CLEAN clean rounds remain; else every round is used and
 * *contended says the test includes contended ones. */
static int pair_rounds(const struct pb_rep_cell *c, const struct pb_rep_cell *b, const char *col,
		       double *xc, double *xb, int *contended, int *excluded)
{
	int n = 0, clean = 0;
	*excluded = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (int k = 0; k < c->n_rounds; k++) {
			int rn = pb_rep_round_no(c, k);
			for (int j = 0; j < b->n_rounds; j++) {
				if (pb_rep_round_no(b, j) != rn)
					continue;
				int cont = pb_rep_round_contended(c, k) || pb_rep_round_contended(b, j);
				if (pass == 0) {
					clean += !cont;
					n++;
				} else if (!cont || clean < PB_REP_MIN_CLEAN) {
					xc[n] = pb_rep_round_num(c, k, col);
					xb[n] = pb_rep_round_num(b, j, col);
					*contended |= cont;
					n++;
				} else {
					++*excluded;
				}
				break;
			}
		}
		if (pass == 0)
			n = 0;
	}
	return n;
}

static int add_group(struct pb_rep_view *v, int gi, int *cap)
{
	struct pb_rep_group *g = &v->groups[gi];
	const struct pb_rep *r = v->r;

	for (int i = 0; i < g->n; i++) {
		int cell = g->cells[i], ref = pb_rep_ref_of(v, g, cell);
		if (ref < 0)
			continue;
		const struct pb_rep_cell *c = &r->cells[cell], *b = &r->cells[ref];
		int nmax = c->n_rounds > b->n_rounds ? c->n_rounds : b->n_rounds;
		double *xc = malloc((size_t)nmax * sizeof *xc), *xb = malloc((size_t)nmax * sizeof *xb);
		if (!xc || !xb) {
			free(xc);
			free(xb);
			return -ENOMEM;
		}
		for (int t = 0; t < g->n_tables; t++)
			for (int k = 0; k < g->tables[t].n; k++) {
				const struct pb_rep_metric *m = &g->tables[t].m[k];
				if (m->kind != PB_K_TESTED || m->get || pb_rep_cmp_find(v, cell, m->col))
					continue;
				/* with rounds, a contended round is judged on its own */
				int contended = (!c->rounds && pb_rep_contended(c)) ||
						(!b->rounds && pb_rep_contended(b)), excluded;
				int n = pair_rounds(c, b, m->col, xc, xb, &contended, &excluded);
				struct pb_effect e;
				if (pb_paired_log_ratio(xb, xc, n, PB_REP_LEVEL, &e) < 0)
					continue;    /* neither has the metric */
				if (v->n_cmps == *cap) {
					int nc = *cap ? *cap * 2 : 64;
					struct pb_rep_cmp *p = realloc(v->cmps, (size_t)nc * sizeof *p);
					if (!p) {
						free(xc);
						free(xb);
						return -ENOMEM;
					}
					v->cmps = p;
					*cap = nc;
				}
				v->cmps[v->n_cmps++] = (struct pb_rep_cmp){
					.group = gi, .cell = cell, .ref = ref, .col = m->col, .head = m->head,
					.better = m->better, .aa = c->aa_of[0] != '\0', .contended = contended,
					.excluded = excluded,
					.e = e, .p_adj = NAN, .real = 0,
				};
			}
		free(xc);
		free(xb);
	}
	return 0;
}

int pb_rep_compare(struct pb_rep_view *v)
{
	int cap = 0, rc = 0;
	double *p = NULL, *adj = NULL;
	int *rej = NULL;

	for (int gi = 0; gi < v->n_groups; gi++)
		if ((rc = add_group(v, gi, &cap)) < 0)
			return rc;
	if (!v->n_cmps)
		return 0;
	p = malloc((size_t)v->n_cmps * sizeof *p);
	adj = malloc((size_t)v->n_cmps * sizeof *adj);
	rej = malloc((size_t)v->n_cmps * sizeof *rej);
	if (!p || !adj || !rej) {
		rc = -ENOMEM;
		goto out;
	}
	/* against the band of the smallest effect of interest (0: none, the
	 * plain two-sided test): an effect inside it is never "real" */
	for (int i = 0; i < v->n_cmps; i++)
		p[i] = v->cmps[i].e.n >= 2 ? pb_min_effect_p(&v->cmps[i].e, v->r->min_effect_pct) : NAN;
	/* one family: every tested comparison of the report, A/A included */
	if ((rc = pb_bh(p, v->n_cmps, PB_REP_FDR_Q, rej, adj)) < 0)
		goto out;
	rc = 0;
	for (int i = 0; i < v->n_cmps; i++) {
		struct pb_rep_cmp *k = &v->cmps[i];
		k->p_adj = adj[i];
		k->real = rej[i];
		if (isnan(p[i]))
			continue;
		v->n_tested++;
		v->n_real += k->real;
		v->n_aa_tested += k->aa;
		v->n_aa_real += k->aa && k->real;
	}
out:
	free(p);
	free(adj);
	free(rej);
	return rc;
}
