/* core/experiment/slurm.c — the `slurm:` block: defaults for `prunebench
 * slurm` (partition, account, qos, time, mem, cpus_per_task, max_parallel,
 * tasks, sbatch_args, setup).  Batch settings only: they never enter a
 * cell's configuration or id, so moving an experiment between a laptop and
 * a cluster keeps its results.  Values end up in a shell script's #SBATCH
 * lines, so they are checked here against what sbatch accepts, with the
 * file:line:col of the offending value.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "xp.h"

static const char *const slurm_keys[] = {
	"partition", "account", "qos", "time", "mem", "cpus_per_task", "max_parallel", "tasks",
	"sbatch_args", "setup",
};

void xp_slurm_clear(struct pb_slurm_spec *s)
{
	for (int i = 0; i < s->n_sbatch_args; i++)
		free(s->sbatch_args[i]);
	free(s->sbatch_args);
	for (int i = 0; i < s->n_setup; i++)
		free(s->setup[i]);
	free(s->setup);
	memset(s, 0, sizeof *s);
}

/* Slurm names (partitions, accounts, QOS; comma-separated lists allowed). */
static int slurm_name(struct xctx *c, const struct xnode *n, const char *key, char *out, size_t len)
{
	int ret = xp_scalar(c, n, key);
	if (ret < 0)
		return ret;
	if (!n->text[0] || strlen(n->text) >= len)
		return xerr(c, n, "slurm: '%s': expected a name of 1 to %zu characters", key, len - 1);
	for (const char *p = n->text; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_-.,", *p))
			return xerr(c, n, "slurm: '%s': '%s' may contain only letters, digits, "
				    "'_', '-', '.' and ','", key, n->text);
	snprintf(out, len, "%s", n->text);
	return 0;
}

/* Unsigned decimal of 1..max digits at *p; advances p.  -1 when none. */
static long digits(const char **p, int max)
{
	long v = 0;
	int n = 0;
	while (isdigit((unsigned char)**p) && n < max) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n ? v : -1;
}

/* sbatch --time: "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S", or
 * "UNLIMITED"/"INFINITE". */
int pb_slurm_time_ok(const char *s)
{
	const char *p = s;

	if (!strcmp(s, "UNLIMITED") || !strcmp(s, "INFINITE"))
		return 1;
	if (digits(&p, 7) < 0)
		return 0;
	if (*p == '-') {
		p++;
		if (digits(&p, 2) < 0)
			return 0;
	}
	for (int n = 0; *p == ':' && n < 2; n++) {
		p++;
		if (digits(&p, 2) < 0)
			return 0;
	}
	return *p == '\0';
}

/* sbatch --mem: a positive integer with an optional K, M, G or T suffix. */
int pb_slurm_mem_ok(const char *s)
{
	const char *p = s;
	long v = digits(&p, 12);
	if (v <= 0)
		return 0;
	if (*p && strchr("KMGTkmgt", *p))
		p++;
	return *p == '\0';
}

/* A list of strings (or one string) into a malloc'd array. */
static int string_list(struct xctx *c, const struct xnode *n, const char *key,
		       int options, char ***out, int *count)
{
	const struct xnode *one = n;
	int items = n->kind == XN_SEQ ? n->n : 1;
	int ret;

	if (n->kind == XN_MAP)
		return xerr(c, n, "slurm: '%s': expected a list of strings, got a mapping", key);
	*out = calloc((size_t)items + 1, sizeof **out);
	if (!*out)
		return -ENOMEM;
	for (int i = 0; i < items; i++) {
		if (n->kind == XN_SEQ)
			one = n->vals[i];
		if ((ret = xp_scalar(c, one, key)) < 0)
			return ret;
		if (strchr(one->text, '\n') && options)
			return xerr(c, one, "slurm: '%s': one option per item, no line breaks", key);
		if (options && (one->text[0] != '-' || strchr(one->text, '\r')))
			return xerr(c, one, "slurm: '%s': '%s' is not an sbatch option (expected "
				    "something like '--gres=gpu:1')", key, one->text);
		if (!((*out)[i] = strdup(one->text)))
			return -ENOMEM;
		(*count)++;
	}
	return 0;
}

int xp_parse_slurm(struct xctx *c)
{
	struct pb_slurm_spec *s = &c->e->slurm;
	const struct xnode *b = xn_get(c->root, "slurm"), *n;
	char dym[160];
	long long v;
	int ret;

	memset(s, 0, sizeof *s);
	if (!b || xn_is_null(b))
		return 0;
	if (b->kind != XN_MAP)
		return xerr(c, b, "'slurm': expected a mapping of batch settings (partition, time, "
			    "cpus_per_task, ...), got %s", xn_kind_name(b));
	for (int i = 0; i < b->n; i++) {
		const char *k = b->keys[i]->text;
		size_t j;
		for (j = 0; j < PB_ARRAY_LEN(slurm_keys); j++)
			if (!strcmp(k, slurm_keys[j]))
				break;
		if (j == PB_ARRAY_LEN(slurm_keys))
			return xerr(c, b->keys[i], "slurm: unknown key '%s'%s", k,
				    xp_dym(dym, sizeof dym, k, slurm_keys, PB_ARRAY_LEN(slurm_keys)));
	}
	if ((n = xn_get(b, "partition")) &&
	    (ret = slurm_name(c, n, "partition", s->partition, sizeof s->partition)) < 0)
		return ret;
	if ((n = xn_get(b, "account")) &&
	    (ret = slurm_name(c, n, "account", s->account, sizeof s->account)) < 0)
		return ret;
	if ((n = xn_get(b, "qos")) && (ret = slurm_name(c, n, "qos", s->qos, sizeof s->qos)) < 0)
		return ret;
	if ((n = xn_get(b, "time"))) {
		if ((ret = xp_scalar(c, n, "time")) < 0)
			return ret;
		if (strlen(n->text) >= sizeof s->time || !pb_slurm_time_ok(n->text))
			return xerr(c, n, "slurm: 'time': expected a Slurm time limit (minutes, "
				    "H:MM:SS or D-HH:MM:SS, e.g. '30', '1:30:00', '2-00:00:00'), got '%s'",
				    n->text);
		snprintf(s->time, sizeof s->time, "%s", n->text);
	}
	if ((n = xn_get(b, "mem"))) {
		if ((ret = xp_scalar(c, n, "mem")) < 0)
			return ret;
		if (strlen(n->text) >= sizeof s->mem || !pb_slurm_mem_ok(n->text))
			return xerr(c, n, "slurm: 'mem': expected a size like '4G', '500M' or '8000' "
				    "(megabytes), got '%s'", n->text);
		snprintf(s->mem, sizeof s->mem, "%s", n->text);
	}
	struct { const char *key; long long lo, hi; int *dst; } ints[] = {
		{ "cpus_per_task", 1, 4096, &s->cpus_per_task },
		{ "max_parallel", 1, 1000000, &s->max_parallel },
		{ "tasks", 1, 1000000, &s->tasks },
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(ints); i++) {
		if (!(n = xn_get(b, ints[i].key)))
			continue;
		if ((ret = xp_scalar(c, n, ints[i].key)) < 0)
			return ret;
		char *end;
		errno = 0;
		v = strtoll(n->text, &end, 10);
		if (*end || end == n->text || errno || v < ints[i].lo || v > ints[i].hi)
			return xerr(c, n, "slurm: '%s': expected an integer between %lld and %lld, got '%s'",
				    ints[i].key, ints[i].lo, ints[i].hi, n->text);
		*ints[i].dst = (int)v;
	}
	if ((n = xn_get(b, "sbatch_args")) &&
	    (ret = string_list(c, n, "sbatch_args", 1, &s->sbatch_args, &s->n_sbatch_args)) < 0)
		return ret;
	if ((n = xn_get(b, "setup")) &&
	    (ret = string_list(c, n, "setup", 0, &s->setup, &s->n_setup)) < 0)
		return ret;
	return 0;
}
