/* core/report/load-cell.c — a cell's CSV files, read through the results
 * room's libcsv reader and checked: every number the report uses must
 * parse, or the error names the file, its line and the column.  A file a
 * done cell lacks (an older prunebench, a trimmed folder) leaves its
 * columns empty; it is never invented.  rounds.csv (one row per round)
 * is absent from folders written before rounds: such a cell is one
 * round, the summary's. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-internal.h"
#include "results/results.h"
#include "util/util.h"

const char *const pb_rep_sample_col[PB_S_COUNT] = {
	[PB_S_E2E] = "e2e_ms",
	[PB_S_TTFT] = "ttft_ms",
	[PB_S_TPOT] = "tpot_ms",
	[PB_S_PREFILL_TOK_S] = "prefill_tok_s",
	[PB_S_DECODE_TOK_S] = "decode_tok_s",
	[PB_S_EXACT_MATCH] = "exact_match",
	[PB_S_TOKEN_F1] = "token_f1",
	[PB_S_ROUGE_L] = "rouge_l",
};

static int bad_number(char *err, size_t len, const char *path, int rec, const char *col,
		      const char *v)
{
	int line = pb_csv_record_line(path, rec);
	char shown[48];
	/* the value is echoed to a terminal: printable ASCII only, cut short */
	size_t k = 0;
	for (; v[k] && k < sizeof shown - 4; k++)
		shown[k] = (unsigned char)v[k] >= 0x20 && (unsigned char)v[k] < 0x7f ? v[k] : '?';
	shown[k] = '\0';
	if (v[k])
		strcat(shown, "...");
	if (line)
		return pb_errf(err, len, -EINVAL, "%s:%d: column '%s': expected a number, got '%s'",
			       path, line, col, shown);
	return pb_errf(err, len, -EINVAL, "%s: row %d, column '%s': expected a number, got '%s'",
		       path, rec, col, shown);
}

/* pb_csv_read, with a missing file as -ENOENT and no message. */
static int read_table(const char *path, struct pb_table **t, char *err, size_t len)
{
	int rc = pb_csv_read(path, t, err, len);
	if (rc == -ENOENT && err && len)
		err[0] = '\0';
	return rc;
}

int pb_rep_read_summary(struct pb_rep_cell *c, const char *path, char *err, size_t len)
{
	int rc = read_table(path, &c->summary, err, len);
	if (rc == -ENOENT)
		return pb_errf(err, len, rc, "%s: missing (a complete cell has one)", path);
	if (rc < 0)
		return rc;
	if (c->summary->nrows != 1)
		return pb_errf(err, len, -EINVAL, "%s: %d data rows (expected exactly one)", path,
			       c->summary->nrows);
	for (int j = 0; j < c->summary->ncols; j++) {
		const char *col = c->summary->header[j], *v = c->summary->rows[0][j];
		double x;
		if ((pb_rep_col_used(col) || !strcmp(col, "contended")) && pb_rep_parse_num(v, &x) < 0)
			return bad_number(err, len, path, 1, col, v);
	}
	return 0;
}

int pb_rep_read_requests(struct pb_rep_cell *c, char *err, size_t len)
{
	char path[4096];
	struct pb_table *t = NULL;
	int rc;

	pb_path_join(path, sizeof path, c->dir, "requests.csv");
	rc = read_table(path, &t, err, len);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	int cols[PB_S_COUNT], out_col = pb_table_col(t, "output_tokens");
	c->n_req = t->nrows;
	for (int s = 0; s < PB_S_COUNT; s++) {
		cols[s] = pb_table_col(t, pb_rep_sample_col[s]);
		if (cols[s] < 0)
			continue;
		c->samples[s] = malloc((size_t)(t->nrows ? t->nrows : 1) * sizeof(double));
		if (!c->samples[s]) {
			rc = pb_errf(err, len, -ENOMEM, "out of memory");
			goto out;
		}
	}
	for (int i = 0; i < t->nrows; i++) {
		for (int s = 0; s < PB_S_COUNT; s++) {
			if (cols[s] < 0)
				continue;
			const char *v = t->rows[i][cols[s]];
			if (pb_rep_parse_num(v, &c->samples[s][i]) < 0) {
				rc = bad_number(err, len, path, i + 1, pb_rep_sample_col[s], v);
				goto out;
			}
		}
		double n;
		if (out_col >= 0) {
			if (pb_rep_parse_num(t->rows[i][out_col], &n) < 0 || n < 0) {
				rc = bad_number(err, len, path, i + 1, "output_tokens", t->rows[i][out_col]);
				goto out;
			}
			if (!isnan(n))
				c->out_tokens += n;
		}
	}
out:
	pb_table_free(t);
	return rc;
}

static int is_block_linear(const char *role)
{
	static const char *const roles[] = {
		"attn_q", "attn_k", "attn_v", "attn_o", "ffn_gate", "ffn_up", "ffn_down",
		"cross_q", "cross_k", "cross_v", "cross_o",
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(roles); i++)
		if (!strcmp(role, roles[i]))
			return 1;
	return 0;
}

/* "Q8_0 ref-dequant ×30, F16 ref ×5": what the block linears executed in
 * (the kernel column names the format and the backend's kernel), most
 * used first.  Removed tensors are counted as such. */
int pb_rep_read_tensors(struct pb_rep_cell *c, char *err, size_t len)
{
	char path[4096];
	struct pb_table *t = NULL;
	struct { const char *k; int n; } seen[16];
	int n_seen = 0, rc;

	pb_path_join(path, sizeof path, c->dir, "tensors.csv");
	rc = read_table(path, &t, err, len);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	int role = pb_table_col(t, "role"), fmt = pb_table_col(t, "format"), ker = pb_table_col(t, "kernel");
	if (role < 0 || fmt < 0) {
		rc = pb_errf(err, len, -EINVAL, "%s:1: expected columns 'role' and 'format'", path);
		goto out;
	}
	for (int i = 0; i < t->nrows; i++) {
		if (!is_block_linear(t->rows[i][role]))
			continue;
		const char *k = !strcmp(t->rows[i][fmt], "removed") ? "removed" :
			(ker >= 0 && t->rows[i][ker][0] ? t->rows[i][ker] : t->rows[i][fmt]);
		int j = 0;
		while (j < n_seen && strcmp(seen[j].k, k))
			j++;
		if (j == n_seen) {
			if (n_seen == (int)PB_ARRAY_LEN(seen))
				continue;
			seen[n_seen++] = (typeof(seen[0])){ k, 0 };
		}
		seen[j].n++;
	}
	/* most used first; ties by name, so the output is stable */
	for (int a = 0; a < n_seen; a++)
		for (int b = a + 1; b < n_seen; b++)
			if (seen[b].n > seen[a].n || (seen[b].n == seen[a].n && strcmp(seen[b].k, seen[a].k) < 0)) {
				typeof(seen[0]) tmp = seen[a];
				seen[a] = seen[b];
				seen[b] = tmp;
			}
	size_t at = 0;
	for (int j = 0; j < n_seen && at < sizeof c->formats; j++)
		at += (size_t)snprintf(c->formats + at, sizeof c->formats - at, "%s%s ×%d",
				       j ? ", " : "", seen[j].k, seen[j].n);
out:
	pb_table_free(t);
	return rc;
}

/* The cell's energy source: the manifest's measurement.energy list, a
 * counter (RAPL, NVML's total energy) preferred over integrated power. */
static const char *energy_source(const struct pb_rep_cell *c)
{
	yaml_node_t *e = pb_rep_manifest_node(c, "measurement.energy");
	yaml_document_t *d = (yaml_document_t *)&c->doc;
	const char *first = NULL;
	if (!e || e->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *it = e->data.sequence.items.start; it < e->data.sequence.items.top; it++) {
		yaml_node_t *src = yaml_document_get_node(d, *it);
		yaml_node_t *ch = pb_rep_yaml_get(d, src, "channel"), *m = pb_rep_yaml_get(d, src, "method");
		if (!ch || ch->type != YAML_SCALAR_NODE)
			continue;
		if (!first)
			first = (const char *)ch->data.scalar.value;
		if (m && m->type == YAML_SCALAR_NODE && !strcmp((const char *)m->data.scalar.value, "counter"))
			return (const char *)ch->data.scalar.value;
	}
	return first;
}

int pb_rep_read_phases(struct pb_rep_cell *c, char *err, size_t len)
{
	char path[4096];
	struct pb_table *t = NULL;
	int rc;

	c->energy_prefill_j = c->energy_encode_j = c->energy_decode_j = NAN;
	const char *src = energy_source(c);
	if (!src)
		return 0;
	pb_path_join(path, sizeof path, c->dir, "phases.csv");
	rc = read_table(path, &t, err, len);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	int ph = pb_table_col(t, "phase"), ch = pb_table_col(t, "channel"), ej = pb_table_col(t, "energy_j");
	if (ph < 0 || ch < 0 || ej < 0) {
		rc = pb_errf(err, len, -EINVAL, "%s:1: expected columns 'phase', 'channel' and 'energy_j'",
			     path);
		goto out;
	}
	snprintf(c->energy_channel, sizeof c->energy_channel, "%s", src);
	for (int i = 0; i < t->nrows; i++) {
		double v, *dst;
		if (strcmp(t->rows[i][ch], src))
			continue;
		if (!strcmp(t->rows[i][ph], "prefill"))
			dst = &c->energy_prefill_j;
		else if (!strcmp(t->rows[i][ph], "encode"))
			dst = &c->energy_encode_j;
		else if (!strcmp(t->rows[i][ph], "decode"))
			dst = &c->energy_decode_j;
		else
			continue;
		if (pb_rep_parse_num(t->rows[i][ej], &v) < 0) {
			rc = bad_number(err, len, path, i + 1, "energy_j", t->rows[i][ej]);
			goto out;
		}
		if (!isnan(v))
			*dst = isnan(*dst) ? v : *dst + v;
	}
out:
	pb_table_free(t);
	return rc;
}

/* ---- probes.csv of one cell */

void pb_rep_series_free(struct pb_rep_series *s, int n, char **phase_names, int n_phases)
{
	for (int i = 0; s && i < n; i++) {
		free(s[i].channel);
		free(s[i].unit);
		free(s[i].t_ms);
		free(s[i].v);
		free(s[i].phase);
	}
	free(s);
	for (int i = 0; phase_names && i < n_phases; i++)
		free(phase_names[i]);
	free(phase_names);
}

static int intern(char ***names, int *n, const char *s)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp((*names)[i], s))
			return i;
	char **p = realloc(*names, (size_t)(*n + 1) * sizeof *p);
	if (!p)
		return -ENOMEM;
	*names = p;
	if (!(p[*n] = strdup(s)))
		return -ENOMEM;
	return (*n)++;
}

static int series_push(struct pb_rep_series *s, double t, double v, int phase)
{
	if ((s->n & (s->n - 1)) == 0) {    /* grow at powers of two */
		size_t cap = s->n ? (size_t)s->n * 2 : 16;
		double *nt = realloc(s->t_ms, cap * sizeof *nt);
		if (nt)
			s->t_ms = nt;
		double *nv = realloc(s->v, cap * sizeof *nv);
		if (nv)
			s->v = nv;
		int *np = realloc(s->phase, cap * sizeof *np);
		if (np)
			s->phase = np;
		if (!nt || !nv || !np)
			return -ENOMEM;
	}
	s->t_ms[s->n] = t;
	s->v[s->n] = v;
	s->phase[s->n++] = phase;
	return 0;
}

int pb_rep_load_series(const struct pb_rep_cell *c, struct pb_rep_series **out, int *n,
		       char ***phase_names, int *n_phases, char *err, size_t len)
{
	char path[4096];
	struct pb_table *t = NULL;
	struct pb_rep_series *s = NULL;
	int ns = 0, rc;

	*out = NULL;
	*n = 0;
	*phase_names = NULL;
	*n_phases = 0;
	pb_path_join(path, sizeof path, c->dir, "probes.csv");
	if ((rc = read_table(path, &t, err, len)) < 0)
		return rc;
	int ct = pb_table_col(t, "t_ms"), cp = pb_table_col(t, "phase"), cc = pb_table_col(t, "channel"),
	    cu = pb_table_col(t, "unit"), cv = pb_table_col(t, "value");
	if (ct < 0 || cp < 0 || cc < 0 || cu < 0 || cv < 0) {
		rc = pb_errf(err, len, -EINVAL, "%s:1: expected columns t_ms, phase, channel, unit, value",
			     path);
		goto fail;
	}
	for (int i = 0; i < t->nrows; i++) {
		char **row = t->rows[i];
		double tm, v;
		if (pb_rep_parse_num(row[ct], &tm) < 0 || isnan(tm)) {
			rc = bad_number(err, len, path, i + 1, "t_ms", row[ct]);
			goto fail;
		}
		if (pb_rep_parse_num(row[cv], &v) < 0) {
			rc = bad_number(err, len, path, i + 1, "value", row[cv]);
			goto fail;
		}
		int k = 0;
		while (k < ns && strcmp(s[k].channel, row[cc]))
			k++;
		if (k == ns) {
			struct pb_rep_series *p = realloc(s, (size_t)(ns + 1) * sizeof *p);
			if (!p)
				goto oom;
			s = p;
			memset(&s[ns], 0, sizeof s[ns]);
			ns++;
			if (!(s[k].channel = strdup(row[cc])) || !(s[k].unit = strdup(row[cu])))
				goto oom;
		}
		int ph = intern(phase_names, n_phases, row[cp]);
		if (ph < 0 || series_push(&s[k], tm, v, ph) < 0)
			goto oom;
	}
	pb_table_free(t);
	*out = s;
	*n = ns;
	return 0;
oom:
	rc = pb_errf(err, len, -ENOMEM, "%s: out of memory", path);
fail:
	pb_table_free(t);
	pb_rep_series_free(s, ns, *phase_names, *n_phases);
	*phase_names = NULL;
	*n_phases = 0;
	return rc;
}

/* ---- rounds.csv: one row per round (a separate process) */

static int sort_rounds_col;   /* qsort has no context argument */

static int cmp_round_row(const void *a, const void *b)
{
	double x = strtod((*(char **const *)a)[sort_rounds_col], NULL);
	double y = strtod((*(char **const *)b)[sort_rounds_col], NULL);
	return (x > y) - (x < y);
}

int pb_rep_read_rounds(struct pb_rep_cell *c, char *err, size_t len)
{
	char path[4096];
	int rc;

	c->n_rounds = 1;
	pb_path_join(path, sizeof path, c->dir, "rounds.csv");
	rc = read_table(path, &c->rounds, err, len);
	if (rc == -ENOENT) {
		c->rounds = NULL;
		return 0;     /* a folder from before rounds: one round, the summary */
	}
	if (rc < 0)
		return rc;
	struct pb_table *t = c->rounds;
	int rcol = pb_table_col(t, "round");
	if (rcol < 0)
		return pb_errf(err, len, -EINVAL, "%s:1: expected a column 'round'", path);
	if (t->nrows < 1)
		return pb_errf(err, len, -EINVAL, "%s: no rounds (a done cell has at least one)", path);
	for (int i = 0; i < t->nrows; i++) {
		for (int j = 0; j < t->ncols; j++) {
			const char *col = t->header[j], *v = t->rows[i][j];
			double x;
			int used = j == rcol || !strcmp(col, "round_position") || !strcmp(col, "contended") ||
				   pb_rep_col_used(col);
			if (used && pb_rep_parse_num(v, &x) < 0)
				return bad_number(err, len, path, i + 1, col, v);
		}
		double r;
		pb_rep_parse_num(t->rows[i][rcol], &r);
		if (!(r >= 1 && r <= 1e6 && r == floor(r))) {
			int line = pb_csv_record_line(path, i + 1);
			return pb_errf(err, len, -EINVAL, "%s:%d: column 'round': expected a round number "
				       "(1, 2, ...), got '%s'", path, line, t->rows[i][rcol]);
		}
	}
	sort_rounds_col = rcol;
	qsort(t->rows, (size_t)t->nrows, sizeof *t->rows, cmp_round_row);
	if (!(c->round_no = malloc((size_t)t->nrows * sizeof *c->round_no)))
		return pb_errf(err, len, -ENOMEM, "out of memory");
	for (int i = 0; i < t->nrows; i++) {
		c->round_no[i] = atoi(t->rows[i][rcol]);
		if (i && c->round_no[i] == c->round_no[i - 1])
			return pb_errf(err, len, -EINVAL, "%s: round %d appears twice", path, c->round_no[i]);
	}
	c->n_rounds = t->nrows;
	return 0;
}

int pb_rep_round_no(const struct pb_rep_cell *c, int k)
{
	return c->rounds && k >= 0 && k < c->n_rounds ? c->round_no[k] : 1;
}

double pb_rep_round_num(const struct pb_rep_cell *c, int k, const char *col)
{
	double v;
	if (!c->rounds)
		return k == 0 ? pb_rep_num(c, col) : NAN;
	int j = pb_table_col(c->rounds, col);
	if (j < 0 || k < 0 || k >= c->n_rounds)
		return NAN;
	return pb_rep_parse_num(c->rounds->rows[k][j], &v) == 0 ? v : NAN;
}

int pb_rep_round_contended(const struct pb_rep_cell *c, int k)
{
	return c->rounds && pb_rep_round_num(c, k, "contended") == 1;
}

int pb_rep_contended(const struct pb_rep_cell *c)
{
	if (pb_rep_num(c, "contended") == 1)
		return 1;
	for (int k = 0; c->rounds && k < c->n_rounds; k++)
		if (pb_rep_round_contended(c, k))
			return 1;
	return 0;
}
