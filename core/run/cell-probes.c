/* core/run/cell-probes.c — measurement conditions around a cell's
 * measured requests: probe start-up, cooldown, idle baseline, throttle
 * detection (contract in cell-probes.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run/cell-probes.h"
#include "results/results.h"
#include "run/cell-record.h"
#include "util/util.h"

int pb_cell_probe_pid;

int pb_cell_start_probes(const struct pb_experiment *e, struct pb_cell_record *rec,
			 struct pb_host_ctx *hosts, struct pb_probe_inst *inst, void **states)
{
	int n = 0;

	for (int i = 0; i < e->n_probes; i++) {
		const struct pb_step *st = &e->probes[i];
		const struct pb_plugin *p = st->plugin->desc;
		char why[512] = "";
		states[i] = NULL;
		pb_host_init(&hosts[i], p->name, e->seed, pb_default_threads());
		hosts[i].host.pid = pb_cell_probe_pid;
		if (p->available && p->available(&hosts[i].host, why, sizeof why) < 0) {
			pb_cell_record_probe(rec, p->name, why[0] ? why : "not available");
			continue;
		}
		void *state = NULL;
		int err = p->init(&hosts[i].host, st->config, &state);
		if (err < 0) {
			snprintf(why, sizeof why, "init failed: %s", strerror(-err));
			pb_cell_record_probe(rec, p->name, why);
			continue;
		}
		const struct pb_probe_ops *ops = p->ops;
		states[i] = state;
		inst[n].name = p->name;
		inst[n].ops = ops;
		inst[n].state = state;
		/* The probe's own `interval_ms` (> 0) wins over the default;
		 * the sampler raises either to the probe's min_interval_ms. */
		inst[n].interval_ms = PB_PROBE_DEFAULT_INTERVAL_MS;
		const struct pb_option *o = p->options ? pb_option_find(p->options, "interval_ms") : NULL;
		if (o && o->type == PB_OPT_DOUBLE) {
			double v;
			memcpy(&v, (const char *)st->config + o->offset, sizeof v);
			if (v > 0)
				inst[n].interval_ms = v;
		}
		if (inst[n].interval_ms < ops->min_interval_ms)
			inst[n].interval_ms = ops->min_interval_ms;
		pb_cell_record_probe(rec, p->name, NULL);
		n++;
	}
	return n;
}

static void real_sleep(void *ctx, double ms)
{
	(void)ctx;
	struct timespec ts = { (time_t)(ms / 1e3), (long)(fmod(ms, 1e3) * 1e6) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void do_sleep(const struct pb_wait_opts *o, double ms)
{
	if (o && o->sleep_ms)
		o->sleep_ms(o->ctx, ms);
	else
		real_sleep(NULL, ms);
}

int pb_cooldown_wait(struct pb_sampler *s, double max_c, double timeout_s,
		     const struct pb_wait_opts *o, struct pb_cooldown_result *r)
{
	double poll = o && o->poll_ms > 0 ? o->poll_ms : 250.0;
	double t0 = pb_sampler_now(s), c;

	memset(r, 0, sizeof *r);
	r->ran = 1;
	r->start_c = r->end_c = NAN;
	for (;;) {
		double t = pb_sampler_poll(s);
		r->n_channels = pb_sampler_hottest(s, &c);
		r->waited_ms = t - t0;
		if (!r->n_channels)
			return 0;   /* nothing to wait on; the manifest says so */
		if (isnan(r->start_c))
			r->start_c = c;
		r->end_c = c;
		if (c <= max_c)
			return 0;
		if (r->waited_ms >= timeout_s * 1e3) {
			r->timed_out = 1;
			return 0;
		}
		double left = timeout_s * 1e3 - r->waited_ms;
		do_sleep(o, left < poll ? left : poll);
	}
}

int pb_idle_baseline(struct pb_sampler *s, double seconds, const struct pb_wait_opts *o,
		     double *t0, double *t1)
{
	pb_sampler_phase(s, PB_PHASE_IDLE);
	*t0 = pb_sampler_poll(s);
	do_sleep(o, seconds * 1e3);
	*t1 = pb_sampler_poll(s);
	return pb_sampler_set_baseline(s, *t0, *t1);
}

void pb_cell_wait_quiet(const struct pb_experiment *e, const struct pb_sampler *s,
			struct pb_quiet_result *r)
{
	double max_s = pb_wait_quiet_get();
	double left_s = e->timeout_s - pb_sampler_now(s) / 1e3;

	if (max_s > left_s / 2) {
		max_s = left_s > 0 ? left_s / 2 : 0;
		pb_log(PB_LOG_WARN, "wait-quiet: at most %.1f s, half of what is left of the "
		       "cell's timeout (%g s)", max_s, e->timeout_s);
	}
	pb_wait_quiet(e->contention_threshold_pct, max_s, NULL, r);
	if (isnan(r->other_cpu_pct))
		pb_log(PB_LOG_WARN, "wait-quiet: others' CPU cannot be read here; not waiting");
	else
		pb_log(r->timed_out ? PB_LOG_WARN : PB_LOG_INFO,
		       "wait-quiet: %.1f s, others' CPU %.1f %% of a core over the last second "
		       "(threshold %g %%)%s", r->waited_s, r->other_cpu_pct,
		       e->contention_threshold_pct, r->timed_out ? "; timed out, measuring anyway" : "");
}

void pb_host_manifest(struct pb_yaml_out *y, const struct pb_cell_record *r)
{
	const struct pb_quiet_result *q = &r->quiet;

	pb_yaml_map_begin(y, "host");
	pb_yaml_kv(y, "contention_threshold_pct", "%g", r->e->contention_threshold_pct);
	pb_yaml_kv(y, "contended", "%s", r->contended < 0 ? "unknown" : r->contended ? "true" : "false");
	pb_yaml_kv(y, "other_cpu", "%s", "system busy CPU (/proc/stat) minus this process's "
		   "(/proc/self/stat), % of one core");
	pb_yaml_kv(y, "cpu_freq_source", "%s", r->freq_source ? r->freq_source : "unavailable");
	pb_yaml_kv(y, "rss_peak_method", "%s", pb_rss_method_name(r->rss_method));
	if (q->ran) {
		pb_yaml_map_begin(y, "wait_quiet");
		pb_yaml_kv(y, "max_s", "%g", q->max_s);
		pb_yaml_kv(y, "waited_s", "%.3f", q->waited_s);
		pb_yaml_kv_bool(y, "timed_out", q->timed_out);
		if (!isnan(q->other_cpu_pct))
			pb_yaml_kv(y, "other_cpu_pct_last_s", "%.3g", q->other_cpu_pct);
		pb_yaml_map_end(y);
	}
	pb_yaml_map_end(y);
}

/* "key: value" at the start of a (left-trimmed) line: the value without
 * quotes into out; 1 when the key matched. */
static int line_kv(const char *line, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	if (strncmp(line, key, kl) || line[kl] != ':')
		return 0;
	const char *v = line + kl + 1;
	while (*v == ' ')
		v++;
	size_t n = strcspn(v, "\n");
	if (n && (*v == '"' || *v == '\'')) {
		v++;
		n = strcspn(v, "\"'\n");
	}
	if (n >= len)
		n = len - 1;
	memcpy(out, v, n);
	out[n] = '\0';
	return 1;
}

void pb_throttle_add_trips(struct pb_throttle *t, const char *yaml)
{
	char channel[64] = "", type[64] = "", val[64];

	for (const char *l = yaml; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		while (*l == ' ' || *l == '-')
			l++;
		if (line_kv(l, "channel", channel, sizeof channel)) {
			type[0] = '\0';
		} else if (line_kv(l, "type", type, sizeof type)) {
		} else if (line_kv(l, "temp_c", val, sizeof val) && channel[0] &&
			   (!strcmp(type, "passive") || !strcmp(type, "hot") ||
			    !strcmp(type, "critical"))) {
			char *end;
			double c = strtod(val, &end);
			if (end == val || !isfinite(c))
				continue;
			int k;
			for (k = 0; k < t->n_trips; k++)
				if (!strcmp(t->trips[k].channel, channel))
					break;
			if (k == t->n_trips) {
				if (k == PB_TRIPS_MAX)
					continue;
				snprintf(t->trips[k].channel, sizeof t->trips[k].channel, "%s", channel);
				t->trips[k].trip_c = c;
				t->n_trips++;
			} else if (c < t->trips[k].trip_c) {
				t->trips[k].trip_c = c;
			}
		}
	}
}

void pb_throttle_set_reference(struct pb_throttle *t, const struct pb_sampler *s, double pct,
			       double tw0, double tw1)
{
	struct pb_range_stat r;

	t->pct = pct;
	t->freq_ref_mhz = t->freq_limit_mhz = NAN;
	if (pct <= 0 || pb_sampler_range(s, "cpu_freq_mhz_min", tw0, tw1, &r) < 0 || !r.n)
		return;
	t->freq_ref_mhz = r.max;
	t->freq_limit_mhz = r.max * pct / 100.0;
}

int pb_throttle_check(const struct pb_throttle *t, const struct pb_sampler *s, double ta,
		      double tb)
{
	struct pb_range_stat r;
	int known = 0;

	if (!isnan(t->freq_limit_mhz) && pb_sampler_range(s, "cpu_freq_mhz_min", ta, tb, &r) == 0 &&
	    r.n) {
		if (r.min < t->freq_limit_mhz)
			return 1;
		known = 1;
	}
	for (int k = 0; k < t->n_trips; k++) {
		if (pb_sampler_range(s, t->trips[k].channel, ta, tb, &r) < 0 || !r.n)
			continue;
		if (r.max >= t->trips[k].trip_c)
			return 1;
		known = 1;
	}
	return known ? 0 : -1;
}
