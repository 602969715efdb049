/* core/experiment/load.c — the `load:` and `slo:` settings (issue 16
 * item 4): how a remote cell's requests arrive, and the service-level
 * objective its goodput is counted against.
 *
 *   load: {mode: closed, concurrency: C, requests: N | duration: D}
 *   load: {mode: open, rate: R, arrivals: poisson|constant, seed: S,
 *          concurrency: CAP, requests: N | duration: D}
 *   slo:  {ttft_ms: T, tpot_ms: P}
 *
 * `load:` at the top level applies to every backend entry; an entry's own
 * `load:` replaces it (not merged key by key: one load is one pattern),
 * and a sweep inside it expands the entry like any option.  A load other
 * than the default is refused on an in-process backend: one session
 * serves one request at a time there, so there is nothing to load.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "xp.h"

static const char *const load_keys[] = {
	"mode", "concurrency", "rate", "arrivals", "seed", "requests", "duration",
};
static const char *const slo_keys[] = { "ttft_ms", "tpot_ms" };

static int known_keys(struct xctx *c, const struct xnode *m, const char *what,
		      const char *const *known, int n)
{
	char dym[160];
	for (int i = 0; i < m->n; i++) {
		int j = 0;
		while (j < n && strcmp(m->keys[i]->text, known[j]))
			j++;
		if (j == n)
			return xerr(c, m->keys[i], "%s: unknown key '%s'%s", what, m->keys[i]->text,
				    xp_dym(dym, sizeof dym, m->keys[i]->text, known, n));
	}
	return 0;
}

/* A number in [lo, hi]; with `seconds`, an 's' or 'm' suffix. */
static int number(struct xctx *c, const struct xnode *n, const char *what, const char *key,
		  double lo, double hi, int seconds, double *out)
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
		return xerr(c, n, "%s: '%s': expected %s between %g and %g%s, got '%s'", what, key,
			    seconds ? "seconds" : "a number", lo, hi,
			    seconds ? " (or a duration like '30s', '2m')" : "", n->text);
	*out = v * mul;
	return 0;
}

static int integer(struct xctx *c, const struct xnode *n, const char *what, const char *key,
		   long lo, long hi, long *out)
{
	int ret = xp_scalar(c, n, key);
	if (ret < 0)
		return ret;
	char *end;
	errno = 0;
	long long v = strtoll(n->text, &end, 10);
	if (end == n->text || *end || errno || v < lo || v > hi)
		return xerr(c, n, "%s: '%s': expected an integer between %ld and %ld, got '%s'", what,
			    key, lo, hi, n->text);
	*out = (long)v;
	return 0;
}

static int choice(struct xctx *c, const struct xnode *n, const char *what, const char *key,
		  const char *const *names, int k, int *out)
{
	char dym[160];
	int ret = xp_scalar(c, n, key);
	if (ret < 0)
		return ret;
	for (int i = 0; i < k; i++)
		if (!strcmp(n->text, names[i])) {
			*out = i;
			return 0;
		}
	return xerr(c, n, "%s: '%s' is %s or %s, got '%s'%s", what, key, names[0], names[1],
		    n->text, xp_dym(dym, sizeof dym, n->text, names, k));
}

/* Keys that only one mode takes. */
static int only_open(struct xctx *c, const struct xnode *m, const char *what, const char *key)
{
	if (!xn_get(m, key))
		return 0;
	return xerr(c, xn_key(m, key), "%s: '%s' applies only to 'mode: open' (a closed loop "
		    "sends each client's next request when its last one ends)", what, key);
}

int xp_parse_load(struct xctx *c, const struct xnode *n, const char *what,
		  struct pb_load_spec *out)
{
	static const char *const modes[] = { "closed", "open" };
	static const char *const arrivals[] = { "poisson", "constant" };
	const struct xnode *k;
	long v;
	int ret, i;

	memset(out, 0, sizeof *out);
	out->concurrency = 1;
	out->seed = c->e->seed;
	if (!n || xn_is_null(n))
		return 0;
	if (n->kind != XN_MAP)
		return xerr(c, n, "%s: expected a mapping like {mode: closed, concurrency: 4} or "
			    "{mode: open, rate: 2}, got %s", what, xn_kind_name(n));
	if ((ret = known_keys(c, n, what, load_keys, (int)PB_ARRAY_LEN(load_keys))) < 0)
		return ret;
	out->given = 1;
	if ((k = xn_get(n, "mode"))) {
		if ((ret = choice(c, k, what, "mode", modes, 2, &i)) < 0)
			return ret;
		out->mode = (enum pb_load_mode)i;
	}
	if (out->mode == PB_LOAD_CLOSED) {
		if ((ret = only_open(c, n, what, "rate")) < 0 ||
		    (ret = only_open(c, n, what, "arrivals")) < 0 ||
		    (ret = only_open(c, n, what, "seed")) < 0)
			return ret;
	} else {
		out->concurrency = PB_LOAD_OPEN_CONCURRENCY;
		if (!(k = xn_get(n, "rate")))
			return xerr(c, n, "%s: 'mode: open' needs 'rate' (requests per second, "
				    "e.g. rate: 2)", what);
		if ((ret = number(c, k, what, "rate", 1e-6, 1e6, 0, &out->rate_rps)) < 0)
			return ret;
		if (out->rate_rps <= 0)
			return xerr(c, k, "%s: 'rate' must be above 0", what);
		if ((k = xn_get(n, "arrivals"))) {
			if ((ret = choice(c, k, what, "arrivals", arrivals, 2, &i)) < 0)
				return ret;
			out->arrivals = (enum pb_arrivals)i;
		}
		if ((k = xn_get(n, "seed"))) {
			if ((ret = xp_scalar(c, k, "seed")) < 0)
				return ret;
			char *end;
			errno = 0;
			unsigned long long s = strtoull(k->text, &end, 10);
			if (end == k->text || *end || errno || k->text[0] == '-')
				return xerr(c, k, "%s: 'seed': expected an unsigned integer, got '%s'", what,
					    k->text);
			out->seed = s;
		}
	}
	if ((k = xn_get(n, "concurrency"))) {
		if ((ret = integer(c, k, what, "concurrency", 1, PB_LOAD_MAX_CONCURRENCY, &v)) < 0)
			return ret;
		out->concurrency = (int)v;
	}
	const struct xnode *rq = xn_get(n, "requests"), *du = xn_get(n, "duration");
	if (rq && du)
		return xerr(c, xn_key(n, "duration"), "%s: give either 'requests' (how many) or "
			    "'duration' (how long), not both", what);
	if (rq) {
		if ((ret = integer(c, rq, what, "requests", 1, 100000000, &v)) < 0)
			return ret;
		out->requests = v;
	}
	if (du && (ret = number(c, du, what, "duration", 0.001, 86400, 1, &out->duration_s)) < 0)
		return ret;
	return 0;
}

int pb_load_is_default(const struct pb_load_spec *l)
{
	return l->mode == PB_LOAD_CLOSED && l->concurrency == 1 && l->requests == 0 &&
	       l->duration_s == 0;
}

int xp_parse_load_settings(struct xctx *c)
{
	struct pb_experiment *e = c->e;
	const struct xnode *n;
	int ret;

	if ((ret = xp_parse_load(c, xn_get(c->root, "load"), "'load'", &e->load)) < 0)
		return ret;
	memset(&e->slo, 0, sizeof e->slo);
	if (!(n = xn_get(c->root, "slo")) || xn_is_null(n))
		return 0;
	if (n->kind != XN_MAP)
		return xerr(c, n, "'slo': expected a mapping {ttft_ms, tpot_ms}, got %s",
			    xn_kind_name(n));
	if ((ret = known_keys(c, n, "'slo'", slo_keys, 2)) < 0)
		return ret;
	const struct xnode *t = xn_get(n, "ttft_ms"), *p = xn_get(n, "tpot_ms");
	if (!t && !p)
		return xerr(c, n, "'slo': give 'ttft_ms', 'tpot_ms' or both (the bounds a request "
			    "must meet to count as goodput)");
	if (t && (ret = number(c, t, "'slo'", "ttft_ms", 1e-6, 1e9, 0, &e->slo.ttft_ms)) < 0)
		return ret;
	if (p && (ret = number(c, p, "'slo'", "tpot_ms", 1e-6, 1e9, 0, &e->slo.tpot_ms)) < 0)
		return ret;
	return 0;
}

int xp_backend_load(struct xctx *c, const struct xnode *entry, struct pb_backend_spec *b)
{
	const struct xnode *own = entry && entry->kind == XN_MAP ? xn_get(entry, "load") : NULL;
	const struct xnode *at = own ? own : xn_get(c->root, "load");
	char what[PB_NAME_MAX + 32];
	int ret;

	if (own) {
		snprintf(what, sizeof what, "backend '%s': 'load'", b->name);
		if ((ret = xp_parse_load(c, own, what, &b->load)) < 0)
			return ret;
	} else {
		b->load = c->e->load;
	}
	const struct pb_plugin *p = b->step.plugin->desc;
	if (!pb_load_is_default(&b->load) && !pb_backend_is_remote(p->ops) && !b->serve)
		return xerr(c, at, "backend '%s' (%s) runs the model in this process, one request "
			    "at a time: a 'load' other than the default (closed loop, concurrency 1, "
			    "every record once) applies only to remote backends (openai) and served "
			    "ones (serve: true); give it in those entries' own 'load:'", b->name, p->name);
	return 0;
}
