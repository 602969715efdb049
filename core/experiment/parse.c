/* core/experiment/parse.c — the experiment's fixed settings (name, seed,
 * output, repeat, ...) and the models and datasets axes.
 *
 * A dataset entry: path, format (text|prompts|jsonl|csv, default from the
 * extension), input/reference fields and prefix (jsonl, csv), max_samples,
 * shuffle, calibration {count, seqlen}, and ctx/stride windows (text).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"
#include "xp.h"

static const char *const top_keys[] = {
	"name", "seed", "output", "repeat", "warmup", "max_new_tokens", "max_samples",
	"score_tokens", "timeout", "memory_limit", "defaults", "models", "datasets", "pruners", "backends", "probes",
	"exclude", "include", "idle_baseline", "cooldown", "throttle_pct", "slurm",
	"rounds", "aa_control",
	"contention_threshold", "min_effect", "network", "load", "slo",
};

static int parse_bool(struct xctx *c, const struct xnode *n, const char *key, int *out);

int xp_scalar(struct xctx *c, const struct xnode *n, const char *what)
{
	if (n->kind == XN_SCALAR && !xn_is_null(n))
		return 0;
	if (xn_is_sweep(n))
		return xerr(c, n, "'%s': a sweep is only allowed inside an entry of "
			    "models, datasets, pruners or backends", what);
	return xerr(c, n, "'%s': expected a value, got %s", what, xn_kind_name(n));
}

int xp_check_name(struct xctx *c, const struct xnode *at, const char *name, const char *what)
{
	if (!name[0])
		return xerr(c, at, "%s: empty name", what);
	if (strlen(name) >= PB_NAME_MAX)
		return xerr(c, at, "%s: name '%.40s...' is longer than %d characters", what, name,
			    PB_NAME_MAX - 1);
	for (const char *p = name; *p; p++) {
		char ch = *p;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-')
			continue;
		/* Names become folder names and cell ids. */
		return xerr(c, at, "%s: name '%s' may contain only letters, digits, '_', '.' and '-'",
			    what, name);
	}
	return 0;
}

static int parse_i64(struct xctx *c, const struct xnode *n, const char *key,
		     long long lo, long long hi, long long *out)
{
	int ret = xp_scalar(c, n, key);
	if (ret < 0)
		return ret;
	char *end;
	errno = 0;
	long long v = strtoll(n->text, &end, 10);
	if (*end || end == n->text || errno || v < lo || v > hi)
		return xerr(c, n, "'%s': expected an integer between %lld and %lld, got '%s'",
			    key, lo, hi, n->text);
	*out = v;
	return 0;
}

static int parse_u64(struct xctx *c, const struct xnode *n, const char *key, uint64_t *out)
{
	int ret = xp_scalar(c, n, key);
	if (ret < 0)
		return ret;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(n->text, &end, 10);
	if (*end || end == n->text || errno || n->text[0] == '-' || n->text[0] == '+' ||
	    n->text[0] == ' ')
		return xerr(c, n, "'%s': expected an unsigned integer (0 to 18446744073709551615), got '%s'",
			    key, n->text);
	*out = v;
	return 0;
}

static int parse_duration(struct xctx *c, const struct xnode *n, double *out)
{
	int ret = xp_scalar(c, n, "timeout");
	if (ret < 0)
		return ret;
	char *end;
	double v = strtod(n->text, &end);
	double mul = 1;
	if (end != n->text && *end && !end[1]) {
		switch (*end) {
		case 's': mul = 1; end++; break;
		case 'm': mul = 60; end++; break;
		case 'h': mul = 3600; end++; break;
		}
	}
	if (end == n->text || *end || !isfinite(v) || v <= 0 || v * mul > 1e9)
		return xerr(c, n, "'timeout': expected seconds > 0, or a duration like '90s', '5m', '1h', got '%s'",
			    n->text);
	*out = v * mul;
	return 0;
}

/* `memory_limit: 2GiB` per cell (run/memlimit.c enforces it). */
static int parse_memory_limit(struct xctx *c, const struct xnode *n, uint64_t *out)
{
	int ret = xp_scalar(c, n, "memory_limit");
	if (ret < 0)
		return ret;
	uint64_t v = 0;
	/* below 16 MiB not even the process starts; it is surely a typo */
	if (pb_size_parse(n->text, &v) < 0 || v < (16u << 20))
		return xerr(c, n, "'memory_limit': expected a size of at least 16 MiB like '2GiB', "
			    "'512MiB' or '1.5G' (K M G T and KiB MiB GiB TiB are powers of 1024, "
			    "kB MB GB TB of 1000), got '%s'", n->text);
	*out = v;
	return 0;
}

static int check_keys(struct xctx *c, const struct xnode *m, const char *what,
		      const char *const *known, int n_known);

/* A number in [lo, hi]; seconds may carry an 's' or 'm' suffix. */
static int parse_number(struct xctx *c, const struct xnode *n, const char *key, double lo,
			double hi, int seconds, double *out)
{
	int ret = xp_scalar(c, n, key);
	if (ret < 0)
		return ret;
	char *end;
	double v = strtod(n->text, &end), mul = 1;
	if (seconds && end != n->text && (*end == 's' || *end == 'm') && !end[1]) {
		mul = *end == 'm' ? 60 : 1;
		end++;
	}
	if (end == n->text || *end || !isfinite(v) || v * mul < lo || v * mul > hi)
		return xerr(c, n, "'%s': expected %s between %g and %g%s, got '%s'", key,
			    seconds ? "seconds" : "a number", lo, hi,
			    seconds ? " (or a duration like '30s', '2m')" : "", n->text);
	*out = v * mul;
	return 0;
}

/* Probe settings of the measurement: idle_baseline, cooldown {max_temp_c,
 * timeout_s}, throttle_pct (sampler.h, cell.c), contention_threshold
 * (% of one core; sampler-host.c), min_effect (%, the report's smallest
 * effect of interest; written to summary.csv). */
static int parse_probe_settings(struct xctx *c)
{
	struct pb_experiment *e = c->e;
	const struct xnode *r = c->root, *n;
	static const char *const cool_keys[] = { "max_temp_c", "timeout_s" };
	int ret;

	e->idle_baseline_s = 0;
	if ((n = xn_get(r, "idle_baseline")) &&
	    (ret = parse_number(c, n, "idle_baseline", 0, 3600, 1, &e->idle_baseline_s)) < 0)
		return ret;
	e->throttle_pct = 90;
	if ((n = xn_get(r, "throttle_pct")) &&
	    (ret = parse_number(c, n, "throttle_pct", 0, 100, 0, &e->throttle_pct)) < 0)
		return ret;
	e->contention_threshold_pct = 10;
	if ((n = xn_get(r, "contention_threshold")) &&
	    (ret = parse_number(c, n, "contention_threshold", 0, 100000, 0,
				&e->contention_threshold_pct)) < 0)
		return ret;
	e->min_effect_pct = 0;
	if ((n = xn_get(r, "min_effect")) &&
	    (ret = parse_number(c, n, "min_effect", 0, 1000, 0, &e->min_effect_pct)) < 0)
		return ret;
	e->cooldown = 0;
	e->cooldown_timeout_s = 300;
	if (!(n = xn_get(r, "cooldown")) || xn_is_null(n))
		return 0;
	if (n->kind != XN_MAP)
		return xerr(c, n, "'cooldown': expected a mapping {max_temp_c, timeout_s}, got %s",
			    xn_kind_name(n));
	if ((ret = check_keys(c, n, "'cooldown'", cool_keys, 2)) < 0)
		return ret;
	const struct xnode *t = xn_get(n, "max_temp_c");
	if (!t)
		return xerr(c, n, "'cooldown': missing 'max_temp_c' (the temperature, in °C, "
			    "every sensor must be at or below before measuring)");
	if ((ret = parse_number(c, t, "max_temp_c", 0, 150, 0, &e->cooldown_max_temp_c)) < 0)
		return ret;
	if ((t = xn_get(n, "timeout_s")) &&
	    (ret = parse_number(c, t, "timeout_s", 0.001, 86400, 1, &e->cooldown_timeout_s)) < 0)
		return ret;
	e->cooldown = 1;
	return 0;
}

int xp_parse_settings(struct xctx *c)
{
	struct pb_experiment *e = c->e;
	const struct xnode *r = c->root;
	char dym[160];
	long long v;
	int ret;

	for (int i = 0; i < r->n; i++) {
		const char *k = r->keys[i]->text;
		size_t j;
		/* x-*: free for anchors (`x-common: &c {...}`), as in compose files. */
		if (!strncmp(k, "x-", 2))
			continue;
		for (j = 0; j < PB_ARRAY_LEN(top_keys); j++)
			if (!strcmp(k, top_keys[j]))
				break;
		if (j == PB_ARRAY_LEN(top_keys))
			return xerr(c, r->keys[i], "unknown setting '%s'%s", k,
				    xp_dym(dym, sizeof dym, k, top_keys, PB_ARRAY_LEN(top_keys)));
	}

	const struct xnode *n = xn_get(r, "name");
	if (!n)
		return xerr(c, r, "missing required setting 'name'");
	if ((ret = xp_scalar(c, n, "name")) < 0 ||
	    (ret = xp_check_name(c, n, n->text, "'name'")) < 0)
		return ret;
	snprintf(e->name, sizeof e->name, "%s", n->text);

	e->seed = 0;
	if ((n = xn_get(r, "seed")) && (ret = parse_u64(c, n, "seed", &e->seed)) < 0)
		return ret;

	snprintf(e->output, sizeof e->output, "results/%s", e->name);
	if ((n = xn_get(r, "output"))) {
		if ((ret = xp_scalar(c, n, "output")) < 0)
			return ret;
		if (strlen(n->text) >= sizeof e->output)
			return xerr(c, n, "'output': path longer than %zu bytes", sizeof e->output - 1);
		snprintf(e->output, sizeof e->output, "%s", n->text);
	}

	struct { const char *key; long long lo, hi, def; int *dst; } ints[] = {
		{ "repeat", 1, 1000000, 1, &e->repeat },
		{ "warmup", 0, 1000000, 1, &e->warmup },
		{ "max_new_tokens", 1, 65536, 32, &e->max_new_tokens },
		{ "max_samples", 0, 1000000000, 0, &e->max_samples },
		{ "score_tokens", 0, 100000000, 4096, &e->score_tokens },
		{ "rounds", 1, 1000, 1, &e->rounds },
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(ints); i++) {
		v = ints[i].def;
		if ((n = xn_get(r, ints[i].key)) &&
		    (ret = parse_i64(c, n, ints[i].key, ints[i].lo, ints[i].hi, &v)) < 0)
			return ret;
		*ints[i].dst = (int)v;
	}

	e->timeout_s = 600;
	if ((n = xn_get(r, "timeout")) && (ret = parse_duration(c, n, &e->timeout_s)) < 0)
		return ret;
	e->memory_limit_bytes = 0;
	if ((n = xn_get(r, "memory_limit")) && (ret = parse_memory_limit(c, n, &e->memory_limit_bytes)) < 0)
		return ret;
	e->aa_control = 0;
	if ((n = xn_get(r, "aa_control")) && (ret = parse_bool(c, n, "aa_control", &e->aa_control)) < 0)
		return ret;
	c->aa_node = n;
	if ((ret = xp_parse_load_settings(c)) < 0)
		return ret;
	return parse_probe_settings(c);
}

/* An axis: a non-empty mapping of entry name -> spec. */
static int axis_map(struct xctx *c, const char *key, int required, struct xnode **out)
{
	struct xnode *n = xn_get(c->root, key);
	*out = NULL;
	if (!n) {
		if (required)
			return xerr(c, c->root, "missing required setting '%s'", key);
		return 0;
	}
	if (n->kind != XN_MAP && !xn_is_null(n))
		return xerr(c, n, "'%s': expected a mapping of name: spec, got %s", key,
			    xn_kind_name(n));
	if (xn_is_null(n) || n->n == 0)
		return xerr(c, n, "'%s': empty axis; it needs at least one entry", key);
	*out = n;
	return 0;
}

/* Check a spec mapping's keys against the known ones. */
static int check_keys(struct xctx *c, const struct xnode *m, const char *what,
		      const char *const *known, int n_known)
{
	char dym[160];
	for (int i = 0; i < m->n; i++) {
		int j;
		for (j = 0; j < n_known; j++)
			if (!strcmp(m->keys[i]->text, known[j]))
				break;
		if (j == n_known)
			return xerr(c, m->keys[i], "%s: unknown key '%s'%s", what, m->keys[i]->text,
				    xp_dym(dym, sizeof dym, m->keys[i]->text, known, n_known));
	}
	return 0;
}

static int resolve_path(struct xctx *c, const struct xnode *n, const char *what,
			int want_file, char *out, size_t len)
{
	struct stat st;
	int ret = xp_scalar(c, n, "path");
	if (ret < 0)
		return ret;
	if (n->text[0] == '/')
		ret = snprintf(out, len, "%s", n->text) >= (int)len ? -ENAMETOOLONG : 0;
	else
		ret = pb_path_join(out, len, c->e->dir, n->text);
	if (ret < 0)
		return xerr(c, n, "%s: path too long", what);
	if (stat(out, &st) < 0)
		return xerr(c, n, "%s: '%s' does not exist (looked for %s)", what, n->text, out);
	if (want_file && !S_ISREG(st.st_mode))
		return xerr(c, n, "%s: '%s' is not a regular file", what, n->text);
	return 0;
}

static int model_entry(struct xctx *c, const struct xnode *key, struct xnode *val,
		       const char *name, void *arg)
{
	static const char *const known[] = { "synth", "path", "seed", "tokenizer", "tokenizer_pre", "ctx" };
	struct pb_experiment *e = c->e;
	char what[PB_NAME_MAX + 16], dym[160];
	int ret;
	(void)arg;

	snprintf(what, sizeof what, "model '%s'", key->text);
	if (val->kind != XN_MAP)
		return xerr(c, xn_is_null(val) ? key : val,
			    "%s: expected a mapping with 'synth' or 'path', got %s", what,
			    xn_kind_name(val));
	if ((ret = check_keys(c, val, what, known, 6)) < 0)
		return ret;

	struct pb_model_spec *m = realloc(e->models, (e->n_models + 1) * sizeof *m);
	if (!m)
		return -ENOMEM;
	e->models = m;
	m = &e->models[e->n_models];
	memset(m, 0, sizeof *m);
	snprintf(m->name, sizeof m->name, "%s", name);

	const struct xnode *synth = xn_get(val, "synth"), *path = xn_get(val, "path");
	const struct xnode *seed = xn_get(val, "seed"), *tok = xn_get(val, "tokenizer");
	const struct xnode *pre = xn_get(val, "tokenizer_pre");
	if (synth && path)
		return xerr(c, xn_key(val, "path"), "%s: give either 'synth' or 'path', not both", what);
	if (!synth && !path)
		return xerr(c, val, "%s: needs 'synth: <preset>' or 'path: <file>'", what);
	if (synth) {
		if ((ret = xp_scalar(c, synth, "synth")) < 0)
			return ret;
		if (!pb_synth_find(synth->text)) {
			int n = 0;
			const struct pb_synth_preset *ps = pb_synth_presets(&n);
			const char *names[64];
			n = n > 64 ? 64 : n;
			for (int i = 0; i < n; i++)
				names[i] = ps[i].name;
			return xerr(c, synth, "%s: unknown synth preset '%s'%s", what, synth->text,
				    xp_dym(dym, sizeof dym, synth->text, names, n));
		}
		m->source = PB_MODEL_SYNTH;
		snprintf(m->preset, sizeof m->preset, "%s", synth->text);
		m->seed = e->seed;
		if (seed && (ret = parse_u64(c, seed, "seed", &m->seed)) < 0)
			return ret;
	} else {
		if (seed)
			return xerr(c, xn_key(val, "seed"), "%s: 'seed' applies only to synth models", what);
		m->source = PB_MODEL_FILE;
		if ((ret = resolve_path(c, path, what, 0, m->path, sizeof m->path)) < 0)
			return ret;
		/* a tokenizer file that replaces (llama2.c: supplies) the model's */
		if (tok && (ret = resolve_path(c, tok, what, 1, m->tokenizer, sizeof m->tokenizer)) < 0)
			return ret;
	}
	if (synth && tok)
		return xerr(c, xn_key(val, "tokenizer"), "%s: 'tokenizer' applies only to model files", what);
	if (synth && pre)
		return xerr(c, xn_key(val, "tokenizer_pre"), "%s: 'tokenizer_pre' applies only to model files", what);
	if (pre) {   /* a GGUF vocabulary's pre-tokenizer, by llama.cpp's name */
		if ((ret = xp_scalar(c, pre, "tokenizer_pre")) < 0)
			return ret;
		if (!pb_tokenizer_pre_known(pre->text))
			return xerr(c, pre, "%s: tokenizer_pre: unknown pre-tokenizer '%s' (known: %s)", what, pre->text,
				    pb_tokenizer_pre_names());
		snprintf(m->tokenizer_pre, sizeof m->tokenizer_pre, "%s", pre->text);
	}
	/* the positions a run uses (a file's default: at most PB_CTX_DEFAULT
	 * of its trained context; a preset's own) */
	const struct xnode *ctx = xn_get(val, "ctx");
	if (ctx) {
		long long v;
		if ((ret = parse_i64(c, ctx, "ctx", 1, 1 << 20, &v)) < 0)
			return ret;
		if (synth) {
			const struct pb_synth_preset *ps = pb_synth_find(synth->text);
			if (v > ps->hp.ctx)
				return xerr(c, ctx, "%s: ctx %lld: preset '%s' has %d positions", what, v,
					    synth->text, ps->hp.ctx);
		}
		m->ctx = (int)v;
	}
	e->n_models++;
	return 0;
}

int xp_parse_models(struct xctx *c)
{
	struct xnode *axis;
	int ret = axis_map(c, "models", 1, &axis);
	for (int i = 0; ret == 0 && i < axis->n; i++)
		ret = xp_expand_entry(c, XA_MODEL, axis->keys[i], axis->vals[i], model_entry, NULL);
	return ret;
}

static int parse_bool(struct xctx *c, const struct xnode *n, const char *key, int *out)
{
	int ret = xp_scalar(c, n, key);
	if (ret < 0)
		return ret;
	if (!strcmp(n->text, "true"))
		*out = 1;
	else if (!strcmp(n->text, "false"))
		*out = 0;
	else
		return xerr(c, n, "'%s': expected true or false, got '%s'", key, n->text);
	return 0;
}

/* A string key of a dataset entry into a fixed buffer. */
static int dataset_str(struct xctx *c, const struct xnode *val, const char *key,
		       const char *what, char *out, size_t len)
{
	const struct xnode *n = xn_get(val, key);
	int ret;
	if (!n)
		return 0;
	if ((ret = xp_scalar(c, n, key)) < 0)
		return ret;
	if (strlen(n->text) >= len)
		return xerr(c, n, "%s: '%s' is longer than %zu bytes", what, key, len - 1);
	snprintf(out, len, "%s", n->text);
	return 0;
}

/* Keys that make sense only for some formats. */
static int dataset_key_applies(struct xctx *c, const struct xnode *val, const char *what,
			       enum pb_dataset_kind f)
{
	static const struct { const char *key; unsigned kinds; const char *which; } only[] = {
		{ "input", 1u << PB_DATASET_JSONL | 1u << PB_DATASET_CSV, "jsonl and csv" },
		{ "field", 1u << PB_DATASET_JSONL | 1u << PB_DATASET_CSV, "jsonl and csv" },
		{ "reference", 1u << PB_DATASET_JSONL | 1u << PB_DATASET_CSV, "jsonl and csv" },
		{ "prefix", ~(1u << PB_DATASET_TEXT), "prompts, jsonl and csv" },
		{ "ctx", 1u << PB_DATASET_TEXT, "text" },
		{ "stride", 1u << PB_DATASET_TEXT, "text" },
		{ "bos", 1u << PB_DATASET_TEXT, "text" },
		{ "separator", 1u << PB_DATASET_TEXT, "text" },
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(only); i++)
		if (xn_get(val, only[i].key) && !(only[i].kinds & (1u << f)))
			return xerr(c, xn_key(val, only[i].key), "%s: '%s' applies only to %s datasets",
				    what, only[i].key, only[i].which);
	return 0;
}

static int dataset_calibration(struct xctx *c, const struct xnode *n, const char *what,
			       struct pb_dataset_spec *d)
{
	static const char *const known[] = { "count", "seqlen" };
	long long v;
	int ret;
	if (n->kind != XN_MAP)
		return xerr(c, n, "%s: 'calibration': expected a mapping {count: N, seqlen: L}, got %s",
			    what, xn_kind_name(n));
	if ((ret = check_keys(c, n, what, known, 2)) < 0)
		return ret;
	const struct xnode *count = xn_get(n, "count"), *seqlen = xn_get(n, "seqlen");
	if (!count)
		return xerr(c, n, "%s: 'calibration' needs 'count'", what);
	if ((ret = parse_i64(c, count, "count", 1, 1000000, &v)) < 0)
		return ret;
	d->calib_count = (int)v;
	d->calib_seqlen = 128;
	if (seqlen && (ret = parse_i64(c, seqlen, "seqlen", 1, 1 << 20, &v)) < 0)
		return ret;
	if (seqlen)
		d->calib_seqlen = (int)v;
	return 0;
}

/* `protocol`, `bos` and `separator`, and which combinations make sense
 * (README "Perplexity protocols"). */
static int dataset_protocol(struct xctx *c, const struct xnode *val, const char *what,
			    struct pb_dataset_spec *d)
{
	static const char *const protocols[] = { "hf", "llama.cpp", "records" };
	static const char *const bos_modes[] = { "once", "window" };
	const struct xnode *p = xn_get(val, "protocol"), *b = xn_get(val, "bos");
	const struct xnode *sep = xn_get(val, "separator");
	const int text = d->format == PB_DATASET_TEXT;
	char dym[160];
	int ret;
	if ((ret = dataset_str(c, val, "separator", what, d->separator, sizeof d->separator)) < 0)
		return ret;
	if (sep && !d->separator[0])
		return xerr(c, sep, "%s: 'separator' must not be empty", what);
	if (p) {
		if ((ret = xp_scalar(c, p, "protocol")) < 0)
			return ret;
		for (int i = 0; i < 3; i++)
			if (!strcmp(p->text, protocols[i]))
				d->protocol = (enum pb_ppl_protocol)(PB_PPL_HF + i);
		if (!d->protocol)
			return xerr(c, p, "%s: 'protocol' is hf, llama.cpp or records, got '%s'%s", what,
				    p->text, xp_dym(dym, sizeof dym, p->text, protocols, 3));
		if (!text && d->protocol != PB_PPL_RECORDS)
			return xerr(c, p, "%s: 'protocol: %s' applies only to text datasets; %s datasets "
				    "are scored per record (protocol: records)", what, p->text,
				    pb_dataset_kind_name(d->format));
		if (text && d->protocol == PB_PPL_RECORDS && !sep)
			return xerr(c, p, "%s: 'protocol: records' on a text dataset needs 'separator' "
				    "(the string between records, e.g. \"<|endoftext|>\")", what);
		if (sep && d->protocol != PB_PPL_RECORDS)
			return xerr(c, sep, "%s: 'separator' splits the text into records, which only "
				    "'protocol: records' scores (this dataset has 'protocol: %s')", what,
				    p->text);
	}
	if (b) {
		if ((ret = xp_scalar(c, b, "bos")) < 0)
			return ret;
		for (int i = 0; i < 2; i++)
			if (!strcmp(b->text, bos_modes[i]))
				d->bos = (enum pb_bos_mode)(PB_BOS_ONCE + i);
		if (!d->bos)
			return xerr(c, b, "%s: 'bos' is once or window, got '%s'%s", what, b->text,
				    xp_dym(dym, sizeof dym, b->text, bos_modes, 2));
	}
	const enum pb_ppl_protocol eff = d->protocol ? d->protocol :
		text && !sep ? PB_PPL_HF : PB_PPL_RECORDS;
	if (b && eff != PB_PPL_HF)
		return xerr(c, xn_key(val, "bos"), "%s: 'bos' applies only to protocol hf (this "
			    "dataset's protocol is %s)", what, eff == PB_PPL_LLAMACPP ? "llama.cpp" : "records");
	if (xn_get(val, "stride") && eff != PB_PPL_HF)
		return xerr(c, xn_key(val, "stride"), "%s: 'stride' applies only to protocol hf (this "
			    "dataset's protocol is %s)", what, eff == PB_PPL_LLAMACPP ? "llama.cpp" : "records");
	return 0;
}

static int dataset_entry(struct xctx *c, const struct xnode *key, struct xnode *val,
			 const char *name, void *arg)
{
	static const char *const known[] = {
		"path", "format", "input", "field", "reference", "prefix", "max_samples",
		"shuffle", "calibration", "ctx", "stride", "protocol", "bos", "separator",
	};
	static const char *const formats[] = { "text", "prompts", "jsonl", "csv" };
	struct pb_experiment *e = c->e;
	char what[PB_NAME_MAX + 16], dym[160];
	const struct xnode *n;
	long long v;
	int ret;
	(void)arg;

	snprintf(what, sizeof what, "dataset '%s'", key->text);
	if (val->kind != XN_MAP)
		return xerr(c, xn_is_null(val) ? key : val,
			    "%s: expected a mapping with 'path', got %s", what, xn_kind_name(val));
	if ((ret = check_keys(c, val, what, known, PB_ARRAY_LEN(known))) < 0)
		return ret;

	struct pb_dataset_spec *d = realloc(e->datasets, (e->n_datasets + 1) * sizeof *d);
	if (!d)
		return -ENOMEM;
	e->datasets = d;
	d = &e->datasets[e->n_datasets];
	memset(d, 0, sizeof *d);
	snprintf(d->name, sizeof d->name, "%s", name);

	const struct xnode *path = xn_get(val, "path"), *format = xn_get(val, "format");
	if (!path)
		return xerr(c, val, "%s: missing required key 'path'", what);
	if ((ret = resolve_path(c, path, what, 1, d->path, sizeof d->path)) < 0)
		return ret;
	d->format = pb_dataset_kind_of_path(path->text);
	if (format) {
		if ((ret = xp_scalar(c, format, "format")) < 0)
			return ret;
		d->format = pb_dataset_kind_parse(format->text);
		if (!d->format)
			return xerr(c, format, "%s: 'format' is text, prompts, jsonl or csv, got '%s'%s",
				    what, format->text, xp_dym(dym, sizeof dym, format->text, formats, 4));
	}
	if ((ret = dataset_key_applies(c, val, what, d->format)) < 0)
		return ret;
	if (xn_get(val, "input") && xn_get(val, "field"))
		return xerr(c, xn_key(val, "field"), "%s: 'field' is the old name of 'input'; give one", what);
	snprintf(d->input, sizeof d->input, "prompt");
	if ((ret = dataset_str(c, val, "input", what, d->input, sizeof d->input)) < 0 ||
	    (ret = dataset_str(c, val, "field", what, d->input, sizeof d->input)) < 0 ||
	    (ret = dataset_str(c, val, "reference", what, d->reference, sizeof d->reference)) < 0 ||
	    (ret = dataset_str(c, val, "prefix", what, d->prefix, sizeof d->prefix)) < 0)
		return ret;
	if ((n = xn_get(val, "max_samples"))) {
		if ((ret = parse_i64(c, n, "max_samples", 0, 1000000000, &v)) < 0)
			return ret;
		d->max_samples = (int)v;
	}
	if ((n = xn_get(val, "shuffle")) && (ret = parse_bool(c, n, "shuffle", &d->shuffle)) < 0)
		return ret;
	if ((n = xn_get(val, "calibration")) && (ret = dataset_calibration(c, n, what, d)) < 0)
		return ret;
	if ((n = xn_get(val, "ctx"))) {
		if ((ret = parse_i64(c, n, "ctx", 2, 1 << 20, &v)) < 0)
			return ret;
		d->ctx = (int)v;
	}
	if ((n = xn_get(val, "stride"))) {
		if ((ret = parse_i64(c, n, "stride", 1, 1 << 20, &v)) < 0)
			return ret;
		if (d->ctx && v > d->ctx)
			return xerr(c, n, "%s: 'stride' (%lld) must not exceed 'ctx' (%d): windows "
				    "would skip tokens", what, v, d->ctx);
		d->stride = (int)v;
	}
	if ((ret = dataset_protocol(c, val, what, d)) < 0)
		return ret;
	e->n_datasets++;
	return 0;
}

int xp_parse_datasets(struct xctx *c)
{
	struct xnode *axis;
	int ret = axis_map(c, "datasets", 1, &axis);
	for (int i = 0; ret == 0 && i < axis->n; i++)
		ret = xp_expand_entry(c, XA_DATASET, axis->keys[i], axis->vals[i], dataset_entry, NULL);
	return ret;
}
