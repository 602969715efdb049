/* core/cli/cmd-probe.c — `prunebench probe [NAMES...] [--duration S]
 * [--interval MS] [--root DIR]`: can each probe work here, and what does
 * it read?
 *
 * Lists every probe plugin as "ok" or "unavailable: <why>", then samples
 * the available ones (or only NAMES) through the core's sampler for the
 * duration and prints each channel: unit, kind, and for a COUNTER its last
 * reading and its rate over the run (J → W), for a GAUGE its mean and
 * maximum.  --root goes to every probe with a `root` option, so that the
 * command runs on fixture trees; then init() decides, since available()
 * only ever looks at the real machine.
 *
 * Exit status: with NAMES, 0 only when every named probe is available;
 * without, 0 (the list is the answer).  2 for a usage error.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "plugin/host.h"
#include "plugin/registry.h"
#include "run/sampler.h"
#include "util/util.h"

/* A host that keeps the last error line of available()/init(), so that
 * the reason lands in the status column instead of scrolling by. */
struct cap_host {
	struct pb_host_ctx ctx;   /* first: the plugin sees &ctx.host */
	int capture;
	char last_err[512];
};

struct probe_run {
	const struct pb_plugin_entry *e;
	struct cap_host host;
	void *config, *state;
	int wanted, ok;
	double interval_ms;
	char status[768];
};

static __attribute__((format(printf, 3, 4)))
void cap_log(const struct pb_host *h, enum pb_log_level lvl, const char *fmt, ...)
{
	struct cap_host *c = (struct cap_host *)h;   /* host is the first member */
	va_list ap;

	if (!fmt)
		return;
	va_start(ap, fmt);
	if (c->capture && lvl <= PB_LOG_ERROR)
		vsnprintf(c->last_err, sizeof c->last_err, fmt, ap);
	else
		pb_logv(lvl > PB_LOG_DEBUG ? PB_LOG_DEBUG : lvl,
			c->ctx.prefix[0] ? c->ctx.prefix : NULL, fmt, ap);
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: prunebench probe [NAMES...] [--duration S] [--interval MS] [--root DIR]\n"
		"\n"
		"Lists every probe plugin as ok or unavailable (with the reason), then\n"
		"samples the available ones (or only NAMES) and prints each channel:\n"
		"counters with their last reading and rate (J -> W), gauges with their\n"
		"mean and maximum over the run.\n"
		"\n"
		"  --duration S    how long to sample (default 1; 0 = one reading)\n"
		"  --interval MS   sampling interval (default: each probe's interval_ms)\n"
		"  --root DIR      give probes with a `root` option this folder instead\n"
		"                  of / (fixture trees); init() then decides availability\n"
		"\n"
		"Exit status: with NAMES, 0 only when all of them are available.\n");
}

static int set_opt(struct probe_run *r, const char *key, const char *text)
{
	const struct pb_plugin *p = r->e->desc;
	const struct pb_option *o = p->options ? pb_option_find(p->options, key) : NULL;
	char err[256];

	if (!o)
		return 0;
	if (pb_option_parse(o, r->config, text, err, sizeof err) < 0) {
		snprintf(r->status, sizeof r->status, "unavailable: option %s: %s", key, err);
		return -EINVAL;
	}
	return 0;
}

/* Configure, check and init one probe; r->status says how it went. */
static void prepare(struct probe_run *r, const char *root, const char *interval)
{
	const struct pb_plugin *p = r->e->desc;
	char why[512] = "";
	int rc;

	pb_host_init(&r->host.ctx, p->name, 0, 0);
	r->host.ctx.host.log = cap_log;
	/* the scan only copied its descriptor: load it here to run it */
	if (pb_plugin_load(r->e, why, sizeof why) < 0) {
		snprintf(r->status, sizeof r->status, "unavailable: failed to load: %s", why);
		return;
	}
	r->config = calloc(1, p->config_size ? p->config_size : 1);
	if (!r->config) {
		snprintf(r->status, sizeof r->status, "unavailable: out of memory");
		return;
	}
	if (p->options && pb_options_defaults(p->options, r->config, p->config_size) < 0) {
		snprintf(r->status, sizeof r->status, "unavailable: bad option defaults");
		return;
	}
	if ((root && set_opt(r, "root", root)) || (interval && set_opt(r, "interval_ms", interval)))
		return;
	int rooted = root && p->options && pb_option_find(p->options, "root");
	r->host.capture = 1;
	/* the hook directly: pb_plugin_available() would cut a long reason */
	if (!rooted && p->available && (rc = p->available(&r->host.ctx.host, why, sizeof why)) < 0) {
		why[sizeof why - 1] = '\0';
		for (char *c = why; *c; c++)
			if (*c == '\n')
				*c = ' ';
		snprintf(r->status, sizeof r->status, "unavailable: %s", why[0] ? why : strerror(-rc));
		r->host.capture = 0;
		return;
	}
	rc = p->init(&r->host.ctx.host, r->config, &r->state);
	r->host.capture = 0;
	if (rc < 0) {
		r->state = NULL;
		snprintf(r->status, sizeof r->status, "unavailable: %s",
			 r->host.last_err[0] ? r->host.last_err : strerror(-rc));
		return;
	}
	r->ok = 1;
	snprintf(r->status, sizeof r->status, "ok");
	/* the interval a run would use: the probe's option, at least its minimum */
	const struct pb_option *o = p->options ? pb_option_find(p->options, "interval_ms") : NULL;
	r->interval_ms = 100;
	if (o && o->type == PB_OPT_DOUBLE)
		memcpy(&r->interval_ms, (const char *)r->config + o->offset, sizeof r->interval_ms);
	if (interval)
		r->interval_ms = strtod(interval, NULL);
}

static void fmt_num(char *out, size_t len, double v)
{
	if (isnan(v))
		snprintf(out, len, "n/a");
	else
		snprintf(out, len, "%.9g", v);
}

/* Channels of one sampled probe. */
static void report(const struct pb_sampler *s, const struct probe_run *r, double dur_ms)
{
	const struct pb_probe_ops *ops = r->e->desc->ops;
	const struct pb_channel *ch;
	int n = 0;

	if (ops->channels(r->state, &ch, &n) < 0 || n <= 0) {
		printf("\n%s: no channels\n", r->e->desc->name);
		return;
	}
	double *last = malloc((size_t)n * sizeof *last);
	if (!last)
		return;
	for (int c = 0; c < n; c++)
		last[c] = NAN;
	/* the sampler is stopped: one more reading gives the counters' values */
	if (ops->read(r->state, last) < 0)
		for (int c = 0; c < n; c++)
			last[c] = NAN;
	int w = 7;
	for (int c = 0; c < n; c++)
		if ((int)strnlen(ch[c].name, sizeof ch[c].name) > w)
			w = (int)strnlen(ch[c].name, sizeof ch[c].name);
	printf("\n%s: %d channel%s over %.2f s\n", r->e->desc->name, n, n == 1 ? "" : "s",
	       dur_ms / 1e3);
	printf("  %-*s  %-6s  %-7s  %-14s  %s\n", w, "CHANNEL", "UNIT", "KIND", "VALUE",
	       "RATE / MAX");
	for (int c = 0; c < n; c++) {
		struct pb_phase_stat st;
		char v[32], x[32], unit[24];
		const char *name = ch[c].name;
		int have = pb_sampler_stat(s, name, PB_PHASE_COUNT, &st) == 0;
		if (ch[c].kind == PB_COUNTER) {
			double rate = have && dur_ms > 0 ? st.delta / (dur_ms / 1e3) : NAN;
			fmt_num(v, sizeof v, last[c]);
			fmt_num(x, sizeof x, rate);
			if (!strcmp(ch[c].unit, "J"))
				snprintf(unit, sizeof unit, "W");
			else
				snprintf(unit, sizeof unit, "%.15s/s", ch[c].unit);
			printf("  %-*s  %-6.15s  counter  %-14s  %s %s\n", w, name, ch[c].unit, v, x,
			       isnan(rate) ? "" : unit);
		} else {
			fmt_num(v, sizeof v, have ? st.mean : NAN);
			fmt_num(x, sizeof x, have ? st.max : NAN);
			printf("  %-*s  %-6.15s  gauge    %-14s  max %s\n", w, name, ch[c].unit, v, x);
		}
	}
	free(last);
}

static int sample(struct probe_run *runs, int n, double duration_s)
{
	struct pb_probe_inst inst[n > 0 ? n : 1];
	struct pb_sampler *s = NULL;
	int k = 0, rc;

	for (int i = 0; i < n; i++) {
		if (!runs[i].ok || !runs[i].wanted)
			continue;
		inst[k].name = runs[i].e->desc->name;
		inst[k].ops = runs[i].e->desc->ops;
		inst[k].state = runs[i].state;
		inst[k].interval_ms = runs[i].interval_ms;
		k++;
	}
	if (!k)
		return 0;
	rc = pb_sampler_start(&s, inst, k, PB_PHASE_IDLE);
	if (rc < 0) {
		pb_log(PB_LOG_ERROR, "cannot start the sampler: %s", strerror(-rc));
		return rc;
	}
	struct timespec ts = { .tv_sec = (time_t)duration_s,
			       .tv_nsec = (long)((duration_s - floor(duration_s)) * 1e9) };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	pb_sampler_stop(s);
	double dur = pb_sampler_phase_ms(s, PB_PHASE_IDLE);
	for (int i = 0; i < n; i++)
		if (runs[i].ok && runs[i].wanted)
			report(s, &runs[i], dur);
	pb_sampler_free(s);
	return 0;
}

static int parse_num(const char *s, double lo, double hi, double *v)
{
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (errno || end == s || *end || !(x >= lo && x <= hi))
		return -EINVAL;
	*v = x;
	return 0;
}

int pb_cmd_probe(int argc, char **argv)
{
	const char *root = NULL, *interval = NULL;
	const char **names = calloc((size_t)argc + 1, sizeof *names);
	struct probe_run *runs = NULL;
	struct pb_registry *r;
	double duration = 1.0, iv;
	int n_names = 0, n = 0, rc = 2;

	if (!names)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			rc = 0;
			goto out;
		} else if (!strcmp(a, "--duration") || !strcmp(a, "--interval") || !strcmp(a, "--root")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "prunebench probe: %s needs a value\n", a);
				goto usage;
			}
			const char *v = argv[++i];
			if (!strcmp(a, "--root")) {
				root = v;
			} else if (!strcmp(a, "--duration")) {
				if (parse_num(v, 0, 3600, &duration)) {
					fprintf(stderr, "prunebench probe: --duration: expected seconds "
						"between 0 and 3600, got '%s'\n", v);
					goto usage;
				}
			} else {
				if (parse_num(v, 1, 60000, &iv)) {
					fprintf(stderr, "prunebench probe: --interval: expected "
						"milliseconds between 1 and 60000, got '%s'\n", v);
					goto usage;
				}
				interval = v;
			}
		} else if (a[0] == '-') {
			fprintf(stderr, "prunebench probe: unknown option '%s'\n", a);
			goto usage;
		} else {
			names[n_names++] = a;
		}
	}
	rc = 1;
	r = pb_cli_registry();
	if (!r)
		goto out;
	runs = calloc((size_t)r->n_entries + 1, sizeof *runs);
	if (!runs)
		goto out;
	for (int i = 0; i < r->n_entries; i++)
		if (r->entries[i].desc->kind == PB_PROBE)
			runs[n++].e = &r->entries[i];

	int missing = 0;
	for (int j = 0; j < n_names; j++) {
		int found = 0;
		for (int i = 0; i < n; i++)
			if (!strcmp(runs[i].e->desc->name, names[j]))
				found = runs[i].wanted = 1;
		if (found)
			continue;
		missing++;
		const struct pb_plugin_failure *f = pb_registry_failure(r, PB_PROBE, names[j]);
		if (f)
			pb_log(PB_LOG_ERROR, "probe '%s' failed to load: %s", names[j], f->why);
		else
			pb_log(PB_LOG_ERROR, "no probe named '%s' ('prunebench plugins' lists them)",
			       names[j]);
	}
	for (int i = 0; i < n; i++) {
		if (!n_names)
			runs[i].wanted = 1;
		prepare(&runs[i], root, interval);
	}
	if (!n)
		printf("no probe plugins found (set PRUNEBENCH_PLUGIN_PATH to a folder of "
		       "probe-<name>.so files)\n");
	int w = 5;
	for (int i = 0; i < n; i++)
		if ((int)strlen(runs[i].e->desc->name) > w)
			w = (int)strlen(runs[i].e->desc->name);
	for (int i = 0; i < n; i++)
		printf("%-*s  %s\n", w, runs[i].e->desc->name, runs[i].status);
	fflush(stdout);

	if (sample(runs, n, duration) < 0)
		goto out;
	for (int i = 0; i < n; i++)
		if (runs[i].ok && runs[i].wanted) {
			printf("\n(counters: last reading and rate over the run; gauges: mean "
			       "and max over the run)\n");
			break;
		}
	rc = 0;
	if (missing)
		rc = 1;
	for (int i = 0; i < n; i++)
		if (n_names && runs[i].wanted && !runs[i].ok)
			rc = 1;
	goto out;
usage:
	usage(stderr);
out:
	for (int i = 0; runs && i < n; i++) {
		if (runs[i].state)
			runs[i].e->desc->fini(runs[i].state);
		free(runs[i].config);
	}
	free(runs);
	free(names);
	return rc;
}
