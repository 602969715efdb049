/* plugins/probes/rapl/rapl.c — CPU package, core, uncore, DRAM and
 * platform (psys) energy from RAPL, as COUNTER channels in joules.
 *
 * Source 1, Linux powercap: <root>/sys/class/powercap/intel-rapl:N (and
 * subzones intel-rapl:N:M; AMD Zen shows up there too), one domain per
 * zone, named by its `name` file.  energy_uj wraps at max_energy_range_uj,
 * which becomes the channel's `wrap` so that the sampler unwraps it.
 * Since Linux 5.10 (CVE-2020-8694) energy_uj is readable by root only.
 *
 * Source 2, when energy_uj cannot be read: the perf `power` PMU
 * (<root>/sys/bus/event_source/devices/power: type, cpumask, events/
 * energy-*{,.scale,.unit}), opened system-wide on the first CPU of each
 * package.  The kernel accumulates those counters in 64 bits, so they
 * never wrap; a reading is count × scale joules.  perf needs
 * kernel.perf_event_paranoid <= 0 or CAP_PERFMON.
 *
 * Channel names: a top-level zone is its name ("package-0" →
 * package_0_energy_j, "psys" → psys_energy_j); a subzone adds its
 * package's number ("dram" under intel-rapl:1 → dram_1_energy_j), so two
 * packages never share a name.  The perf source uses the same names.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <prunebench/plugin.h>

#include "options.h"
#include "sysfs.h"

#define RAPL_MAX 64
#define DEFAULT_PKG_W 500.0      /* per package, when no constraint says */
#define SAFE_MIN_MS 1.0
#define SAFE_MAX_MS 1000.0

struct rapl_config {
	char root[PB_OPT_STR_MAX];
	char domains[PB_OPT_STR_MAX];
	double interval_ms;
};

struct rapl_dom {
	char zone[32];            /* "intel-rapl:0:1", or "power/energy-ram@cpu0" */
	char name[64];            /* the zone's name: "package-0", "dram" */
	char path[PATH_MAX];      /* powercap: energy_uj */
	int fd;                   /* perf: event fd, else -1 */
	double scale;             /* J per raw unit */
	double range_j;           /* powercap: wrap; 0 = never */
	double max_power_w;
};

struct rapl_state {
	const struct pb_host *host;
	int perf;                 /* 1: the perf source */
	int n;
	struct rapl_dom dom[RAPL_MAX];
	struct pb_channel ch[RAPL_MAX];
	double safe_ms;           /* longest interval that cannot miss a wrap */
	char bad_path[PATH_MAX];  /* the energy_uj that could not be read */
};

/* ---- powercap ---------------------------------------------------------- */

struct zone_id {
	unsigned pkg;
	int sub;                  /* -1: a top-level zone */
	char dname[32];
};

static int zone_cmp(const void *a, const void *b)
{
	const struct zone_id *x = a, *y = b;
	if (x->pkg != y->pkg)
		return x->pkg < y->pkg ? -1 : 1;
	return (x->sub > y->sub) - (x->sub < y->sub);
}

/* "intel-rapl:N" or "intel-rapl:N:M", nothing else (not "intel-rapl",
 * the control type, nor "intel-rapl-mmio:N", which repeats package-N). */
static int parse_zone(const char *d, struct zone_id *z)
{
	unsigned a, b;
	int n = -1;

	if (sscanf(d, "intel-rapl:%u:%u%n", &a, &b, &n) == 2 && n > 0 && !d[n]) {
		z->pkg = a;
		z->sub = (int)b;
	} else if (n = -1, sscanf(d, "intel-rapl:%u%n", &a, &n) == 1 && n > 0 && !d[n]) {
		z->pkg = a;
		z->sub = -1;
	} else {
		return -1;
	}
	snprintf(z->dname, sizeof z->dname, "%s", d);
	return 0;
}

/* The zones under <root>/sys/class/powercap, sorted.  Count or -errno. */
static int list_zones(const char *root, struct zone_id *z, int cap)
{
	char dir[PATH_MAX];
	int n = 0, rc = pbs_path(dir, root, "sys/class/powercap");
	DIR *d;

	if (rc)
		return rc;
	d = opendir(dir);
	if (!d)
		return -errno;
	for (struct dirent *e; (e = readdir(d)) && n < cap;)
		if (strlen(e->d_name) < sizeof z->dname && !parse_zone(e->d_name, &z[n]))
			n++;
	closedir(d);
	qsort(z, (size_t)n, sizeof *z, zone_cmp);
	return n;
}

/* Largest constraint_K_max_power_uw of a zone, W; NAN when none. */
static double zone_max_power(const char *root, const char *zone)
{
	char path[PATH_MAX];
	double best = NAN, v;

	for (int k = 0; k < 8; k++) {
		if (pbs_path(path, root, "sys/class/powercap/%s/constraint_%d_max_power_uw", zone, k))
			break;
		if (!pbs_read_num(path, &v) && v > 0 && !(v / 1e6 <= best))
			best = v / 1e6;
	}
	return best;
}

static void add_channel(struct rapl_state *s, const char *base)
{
	struct pb_channel *c = &s->ch[s->n];
	char name[sizeof c->name - 16] = "";

	pbs_name_add(name, sizeof name, base);
	snprintf(c->name, sizeof c->name, "%s_energy_j", name);
	/* a second psys, or a firmware that names two zones alike */
	for (int i = 0, k = 2; i < s->n; i++)
		if (!strcmp(s->ch[i].name, c->name)) {
			snprintf(c->name, sizeof c->name, "%s_%d_energy_j", name, k++);
			i = -1;
		}
	snprintf(c->unit, sizeof c->unit, "J");
	c->kind = PB_COUNTER;
	c->wrap = s->dom[s->n].range_j;
	s->n++;
}

/* Channel base of a zone: its name, plus the package number for a
 * subzone. */
static void zone_base(char *out, size_t len, const char *name, const struct zone_id *z)
{
	if (z->sub < 0)
		snprintf(out, len, "%s", name);
	else
		snprintf(out, len, "%s_%u", name, z->pkg);
}

/* Fill s from powercap.  0; -ENOENT when there are no zones; -EACCES (or
 * the read's -errno) when a chosen zone's energy_uj cannot be read, with
 * why saying which file; -ESRCH when no zone matches the glob. */
static int scan_powercap(struct rapl_state *s, const char *root, const char *glob,
			 char *why, size_t len)
{
	struct zone_id z[RAPL_MAX];
	char path[PATH_MAX], base[96], names[256] = "";
	size_t np = 0;
	int nz = list_zones(root, z, RAPL_MAX), n_pkg = 0;
	double v;

	if (nz <= 0) {
		pbs_path(path, root, "sys/class/powercap");
		snprintf(why, len, "%s %s", path,
			 nz == -ENOENT ? "does not exist" : "has no intel-rapl:* zones");
		return -ENOENT;
	}
	for (int i = 0; i < nz; i++) {   /* packages, for psys's default power */
		char nm[16];
		n_pkg += z[i].sub < 0 &&
			 !pbs_path(path, root, "sys/class/powercap/%s/name", z[i].dname) &&
			 !pbs_read_str(path, nm, sizeof nm) && !strncmp(nm, "package", 7);
	}
	s->n = 0;
	for (int i = 0; i < nz && s->n < RAPL_MAX; i++) {
		struct rapl_dom *d = &s->dom[s->n];
		memset(d, 0, sizeof *d);
		d->fd = -1;
		snprintf(d->zone, sizeof d->zone, "%s", z[i].dname);
		if (pbs_path(path, root, "sys/class/powercap/%s/name", z[i].dname) ||
		    pbs_read_str(path, d->name, sizeof d->name) || !d->name[0])
			snprintf(d->name, sizeof d->name, "%s", z[i].dname);
		pbs_cat(names, sizeof names, &np, "%s%s", np ? ", " : "", d->name);
		zone_base(base, sizeof base, d->name, &z[i]);
		if (!pbs_glob_any(glob, d->name) && !pbs_glob_any(glob, base))
			continue;
		if (pbs_path(d->path, root, "sys/class/powercap/%s/energy_uj", z[i].dname))
			return -ENAMETOOLONG;
		int rc = pbs_read_num(d->path, &v);
		if (rc) {
			snprintf(s->bad_path, sizeof s->bad_path, "%s", d->path);
			snprintf(why, len, "cannot read %s (%s%s)", d->path, strerror(-rc),
				 rc == -EACCES || rc == -EPERM ?
				 "; energy_uj is root-only since Linux 5.10" : "");
			return rc == -EINVAL ? -EIO : rc;
		}
		d->scale = 1e-6;
		if (!pbs_path(path, root, "sys/class/powercap/%s/max_energy_range_uj", z[i].dname) &&
		    !pbs_read_num(path, &v) && v > 0)
			d->range_j = v / 1e6;
		else   /* without it a wrap cannot be undone: a phase would lose energy */
			s->host->log(s->host, PB_LOG_WARN, "%s: no max_energy_range_uj; wraps of "
				     "%s will not be unwrapped", z[i].dname, d->name);
		d->max_power_w = zone_max_power(root, z[i].dname);
		if (isnan(d->max_power_w))   /* psys spans the platform: every package */
			d->max_power_w = DEFAULT_PKG_W * (strcmp(d->name, "psys") || !n_pkg ? 1 : n_pkg);
		if (d->range_j > 0) {
			double ms = d->range_j / d->max_power_w / 4 * 1e3;
			if (ms < s->safe_ms)
				s->safe_ms = ms < SAFE_MIN_MS ? SAFE_MIN_MS : ms;
		}
		add_channel(s, base);
	}
	if (!s->n) {
		snprintf(why, len, "no RAPL domain matches domains '%s' (domains here: %s)", glob,
			 names);
		return -ESRCH;
	}
	return 0;
}

/* ---- perf power PMU ---------------------------------------------------- */

static const struct {
	const char *event, *name;
} perf_events[] = {
	{ "energy-pkg", "package" }, { "energy-cores", "core" }, { "energy-gpu", "uncore" },
	{ "energy-ram", "dram" }, { "energy-psys", "psys" },
};

/* "0,28" or "0-1" → cpus.  Count. */
static int parse_cpumask(const char *s, int *cpus, int cap)
{
	int n = 0;

	while (*s && n < cap) {
		char *end;
		long a = strtol(s, &end, 10), b;
		if (end == s || a < 0)
			break;
		b = a;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a)
				break;
		}
		for (long c = a; c <= b && n < cap; c++)
			cpus[n++] = (int)c;
		s = *end == ',' ? end + 1 : end;
		if (*s == '\n')
			break;
	}
	return n;
}

/* "event=0x02" with format "config:0-7" → attr.config.  0 or -EINVAL. */
static int perf_config(const char *pmu, const char *event, uint64_t *config)
{
	char path[PATH_MAX], buf[128], fmt[64];
	unsigned long long val;
	unsigned lo = 0;
	int n = -1;

	if (pbs_path(path, pmu, "events/%s", event) || pbs_read_str(path, buf, sizeof buf))
		return -ENOENT;
	if (sscanf(buf, "event=%llx%n", &val, &n) != 1 || n < 0 || buf[n])
		return -EINVAL;
	if (!pbs_path(path, pmu, "format/event") && !pbs_read_str(path, fmt, sizeof fmt) &&
	    sscanf(fmt, "config:%u", &lo) == 1 && lo > 63)
		return -EINVAL;
	*config = (uint64_t)val << lo;
	return 0;
}

static int paranoid(void)
{
	double v;
	return pbs_read_num("/proc/sys/kernel/perf_event_paranoid", &v) ? 99 : (int)v;
}

static void close_all(struct rapl_state *s)
{
	for (int i = 0; i < s->n; i++)
		if (s->dom[i].fd >= 0) {
			close(s->dom[i].fd);
			s->dom[i].fd = -1;
		}
}

/* Fill s from the perf power PMU, events opened.  0 or -errno with why. */
static int scan_perf(struct rapl_state *s, const char *root, const char *glob,
		     char *why, size_t len)
{
	char pmu[PATH_MAX], path[PATH_MAX], base[96], dname[64], unit[32];
	int cpus[RAPL_MAX], ncpu, type_rc;
	double type, scale;
	char mask[256];

	if (pbs_path(pmu, root, "sys/bus/event_source/devices/power"))
		return -ENAMETOOLONG;
	pbs_path(path, pmu, "type");
	type_rc = pbs_read_num(path, &type);
	if (type_rc) {
		snprintf(why, len, "no perf power PMU (%s: %s)", path, strerror(-type_rc));
		return -ENOENT;
	}
	pbs_path(path, pmu, "cpumask");
	ncpu = pbs_read_str(path, mask, sizeof mask) ? 0 : parse_cpumask(mask, cpus, RAPL_MAX);
	if (!ncpu) {   /* older kernels: package 0 only, read on CPU 0 */
		cpus[0] = 0;
		ncpu = 1;
	}
	s->n = 0;
	s->perf = 1;
	for (size_t e = 0; e < sizeof perf_events / sizeof *perf_events; e++) {
		uint64_t config;
		if (perf_config(pmu, perf_events[e].event, &config))
			continue;
		scale = 0x1p-32;      /* the kernel's value for every RAPL event */
		pbs_path(path, pmu, "events/%s.scale", perf_events[e].event);
		if (!pbs_read_num(path, &scale) && !(scale > 0))
			scale = 0x1p-32;
		pbs_path(path, pmu, "events/%s.unit", perf_events[e].event);
		if (!pbs_read_str(path, unit, sizeof unit) && strcmp(unit, "Joules"))
			s->host->log(s->host, PB_LOG_WARN, "%s: unit '%s', expected Joules",
				     path, unit);
		for (int i = 0; i < ncpu && s->n < RAPL_MAX; i++) {
			int is_pkg = !strcmp(perf_events[e].name, "package");
			int is_psys = !strcmp(perf_events[e].name, "psys");
			if (is_pkg)
				snprintf(dname, sizeof dname, "package-%d", i);
			else
				snprintf(dname, sizeof dname, "%s", perf_events[e].name);
			if (is_pkg || (is_psys && i == 0))
				snprintf(base, sizeof base, "%s", dname);
			else
				snprintf(base, sizeof base, "%s_%d", dname, i);
			if (!pbs_glob_any(glob, dname) && !pbs_glob_any(glob, base))
				continue;
			struct perf_event_attr attr = {
				.type = (uint32_t)type,
				.size = sizeof attr,
				.config = config,
			};
			long fd = syscall(SYS_perf_event_open, &attr, -1, cpus[i], -1,
					  PERF_FLAG_FD_CLOEXEC);
			if (fd < 0) {
				int err = errno;
				int p = paranoid();
				if (err == EACCES || err == EPERM)
					snprintf(why, len, "perf power/%s on CPU %d: %s "
						 "(kernel.perf_event_paranoid is %d; fix: sudo sysctl "
						 "kernel.perf_event_paranoid=0)", perf_events[e].event,
						 cpus[i], strerror(err), p);
				else
					snprintf(why, len, "perf power/%s on CPU %d: %s",
						 perf_events[e].event, cpus[i], strerror(err));
				close_all(s);
				return -err;
			}
			struct rapl_dom *d = &s->dom[s->n];
			memset(d, 0, sizeof *d);
			snprintf(d->zone, sizeof d->zone, "power/%.12s@cpu%d", perf_events[e].event,
				 cpus[i]);
			snprintf(d->name, sizeof d->name, "%s", dname);
			d->fd = (int)fd;
			d->scale = scale;
			d->max_power_w = DEFAULT_PKG_W;
			add_channel(s, base);
		}
	}
	if (!s->n) {
		snprintf(why, len, "perf power PMU at %s has no energy event matching domains '%s'",
			 pmu, glob);
		return -ESRCH;
	}
	return 0;
}

/* powercap, else perf.  0, or -errno with a reason naming the file and
 * the fix. */
static int discover(void *state, const char *root, const char *glob, char *why, size_t len)
{
	struct rapl_state *s = state;
	char pc_why[PATH_MAX + 128] = "", pf_why[PATH_MAX + 128] = "";
	int rc, pc_rc;

	s->safe_ms = SAFE_MAX_MS;
	s->perf = 0;
	s->bad_path[0] = '\0';
	pc_rc = scan_powercap(s, root, glob, pc_why, sizeof pc_why);
	if (!pc_rc || pc_rc == -ESRCH) {
		snprintf(why, len, "%s", pc_why);
		return pc_rc;
	}
	s->safe_ms = SAFE_MAX_MS;   /* perf counters are 64-bit: no wrap */
	rc = scan_perf(s, root, glob, pf_why, sizeof pf_why);
	if (!rc) {
		s->host->log(s->host, PB_LOG_INFO, "%s; using the perf power PMU instead", pc_why);
		return 0;
	}
	s->n = 0;
	s->perf = 0;
	if (pc_rc == -ENOENT) {
		snprintf(why, len, "no RAPL here: %s, and %s; on an x86 machine load the driver "
			 "(sudo modprobe intel_rapl_msr); VMs and non-x86 CPUs have none",
			 pc_why, pf_why);
		return -ENODEV;
	}
	if (pc_rc == -EACCES || pc_rc == -EPERM)
		snprintf(why, len, "%s; fix: sudo chmod o+r %s, or let perf read it: %s",
			 pc_why, s->bad_path, pf_why);
	else
		snprintf(why, len, "%s, and the perf fallback failed: %s", pc_why, pf_why);
	return pc_rc;
}

/* ---- hooks ------------------------------------------------------------- */

static int rapl_read(void *state, double *v)
{
	struct rapl_state *s = state;
	int bad = 0;

	for (int i = 0; i < s->n; i++) {
		struct rapl_dom *d = &s->dom[i];
		v[i] = NAN;
		if (d->fd >= 0) {
			uint64_t count;
			if (read(d->fd, &count, sizeof count) == (ssize_t)sizeof count)
				v[i] = (double)count * d->scale;
			else
				bad++;
		} else {
			double uj;
			if (!pbs_read_num(d->path, &uj))
				v[i] = uj / 1e6;
			else
				bad++;
		}
	}
	if (bad == s->n && s->n)
		return -EIO;      /* nothing at all: let the sampler back off */
	return 0;
}

static int rapl_channels(void *state, const struct pb_channel **ch, int *n)
{
	struct rapl_state *s = state;
	*ch = s->ch;
	*n = s->n;
	return 0;
}

static int rapl_describe(void *state, char *yaml, size_t len)
{
	struct rapl_state *s = state;
	size_t pos = 0;

	pbs_cat(yaml, len, &pos, "source: %s\nwrap_safe_interval_ms: %.6g\ndomains:\n",
		s->perf ? "perf" : "powercap", s->safe_ms);
	for (int i = 0; i < s->n; i++) {
		pbs_cat(yaml, len, &pos, "  - name: ");
		pbs_cat_yaml_str(yaml, len, &pos, s->dom[i].name);
		pbs_cat(yaml, len, &pos, "\n    zone: ");
		pbs_cat_yaml_str(yaml, len, &pos, s->dom[i].zone);
		pbs_cat(yaml, len, &pos, "\n    channel: %s\n    range_j: %.6f\n"
			"    max_power_w: %.6g\n", s->ch[i].name, s->dom[i].range_j,
			s->dom[i].max_power_w);
	}
	return pos < len ? 0 : -ENOSPC;
}

static void rapl_fini(void *state)
{
	close_all(state);
	free(state);
}

static const struct pbs_scanner rapl_scanner = {
	.state_size = sizeof(struct rapl_state),
	.host_offset = offsetof(struct rapl_state, host),
	.scan = discover,
	.destroy = rapl_fini,
};

static int rapl_available(const struct pb_host *h, char *why, size_t len)
{
	return pbs_scan_available(&rapl_scanner, h, why, len);
}

static int rapl_init(const struct pb_host *h, const void *config, void **state)
{
	const struct rapl_config *c = config;
	struct rapl_state *s;
	int rc = pbs_scan_init(&rapl_scanner, h, c->root, sizeof c->root, c->domains,
			       sizeof c->domains, "domains", state);

	if (rc)
		return rc;
	s = *state;
	/* The sampler takes the interval from the option; a longer one than
	 * the fastest possible wrap would lose energy silently. */
	if (c->interval_ms > s->safe_ms) {
		h->log(h, PB_LOG_ERROR, "interval_ms %g could miss a counter wrap; use "
		       "interval_ms <= %g (a quarter of the time the fastest-wrapping zone "
		       "takes to wrap at its maximum power)", c->interval_ms, floor(s->safe_ms));
		rapl_fini(s);
		*state = NULL;
		return -EINVAL;
	}
	return 0;
}

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option rapl_options[] = {
	PC_OPT_ROOT(struct rapl_config),
	{ .key = "domains", .type = PB_OPT_STRING,
	  .offset = offsetof(struct rapl_config, domains), .def = "*", .min = 1, .max = 0,
	  .help = "comma-separated globs on domain names (package-0, core, uncore, dram, "
		  "psys) or channel stems (dram_1)" },
	{ .key = "interval_ms", .type = PB_OPT_DOUBLE,
	  .offset = offsetof(struct rapl_config, interval_ms), .def = "100",
	  .min = 1, .max = 1000,
	  .help = "sampling interval; init refuses one long enough to miss a counter wrap" },
	PB_OPTIONS_END
};

static const struct pb_probe_ops rapl_ops = {
	.struct_size = sizeof(struct pb_probe_ops),
	.channels = rapl_channels,
	.read = rapl_read,
	/* RAPL updates about every ms; the wrap bound is an upper limit on
	 * the interval, checked against interval_ms in init (this field is
	 * static and cannot depend on the machine). */
	.min_interval_ms = 1,
	.describe = rapl_describe,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PROBE,
	.name = "rapl",
	.version = "1.0.0",
	.summary = "CPU package/core/uncore/DRAM/psys energy (J) from powercap RAPL or perf power",
	.options = rapl_options,
	.config_size = sizeof(struct rapl_config),
	.available = rapl_available,
	.init = rapl_init,
	.fini = rapl_fini,
	.ops = &rapl_ops,
};
