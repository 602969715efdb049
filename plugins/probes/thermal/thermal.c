/* plugins/probes/thermal/thermal.c — temperatures of the kernel's thermal
 * zones, <root>/sys/class/thermal/thermal_zoneN/{type,temp}, as GAUGE
 * channels <type>_<N>_temp_c in °C.
 *
 * `temp` is in millidegrees Celsius.  Some drivers answer read() with
 * ENODATA or EAGAIN while the sensor has no value (a Wi-Fi card whose
 * interface is down, a zone still probing): that reading is NAN, never an
 * error.  Every other read error (EIO from a flaky I2C sensor, a zone that
 * vanished) is mapped the same way, logged once per zone, so that one bad
 * zone cannot stop the others from being sampled.  Tests stand in for
 * ENODATA with a `temp` that is a directory (read() gives EISDIR even for
 * root, where an unreadable file would not fail).
 *
 * Trip points (trip_point_K_temp, trip_point_K_type) do not change while
 * a cell runs; they are read once at init and given to the manifest by
 * describe(), so a report can tell how close a run came to throttling.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <prunebench/plugin.h>

#include "options.h"
#include "sysfs.h"

#define ZONES_MAX 128
#define TRIPS_MAX 16

struct th_config {
	char root[PB_OPT_STR_MAX];
	char zones[PB_OPT_STR_MAX];
	double interval_ms;
};

struct th_trip {
	char type[16];            /* critical, hot, passive, active */
	double temp_c;
};

struct th_zone {
	unsigned idx;             /* N of thermal_zoneN */
	char type[64];
	char path[PATH_MAX];      /* .../temp */
	int ntrips;
	struct th_trip trips[TRIPS_MAX];
	int warned;
};

struct th_state {
	const struct pb_host *host;
	int n;
	struct th_zone *z;
	struct pb_channel *ch;
};

static int idx_cmp(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return (x > y) - (x < y);
}

/* N of every thermal_zoneN under <root>/sys/class/thermal, sorted (the
 * cooling_deviceN entries beside them are not zones).  Count or -errno. */
static int list_zones(const char *root, unsigned *idx, int cap)
{
	char dir[PATH_MAX];
	int n = 0, rc = pbs_path(dir, root, "sys/class/thermal");
	DIR *d;

	if (rc)
		return rc;
	d = opendir(dir);
	if (!d)
		return -errno;
	for (struct dirent *e; (e = readdir(d)) && n < cap;) {
		unsigned v;
		int end = -1;
		if (sscanf(e->d_name, "thermal_zone%u%n", &v, &end) == 1 && end > 0 &&
		    !e->d_name[end])
			idx[n++] = v;
	}
	closedir(d);
	qsort(idx, (size_t)n, sizeof *idx, idx_cmp);
	return n;
}

static void read_trips(const char *root, struct th_zone *z)
{
	char path[PATH_MAX];
	double v;

	for (int k = 0; k < 64 && z->ntrips < TRIPS_MAX; k++) {
		struct th_trip *t = &z->trips[z->ntrips];
		if (pbs_path(path, root, "sys/class/thermal/thermal_zone%u/trip_point_%d_temp",
			     z->idx, k) || pbs_read_num(path, &v))
			break;   /* trip points are numbered from 0 without gaps */
		t->temp_c = v / 1e3;
		if (pbs_path(path, root, "sys/class/thermal/thermal_zone%u/trip_point_%d_type",
			     z->idx, k) || pbs_read_str(path, t->type, sizeof t->type))
			snprintf(t->type, sizeof t->type, "unknown");
		z->ntrips++;
	}
}

static void th_free(void *state)
{
	struct th_state *s = state;
	if (!s)
		return;
	free(s->z);
	free(s->ch);
	free(s);
}

/* The zones under root whose type matches glob.  0 or -errno with why. */
static int scan(void *state, const char *root, const char *glob, char *why, size_t len)
{
	struct th_state *s = state;
	unsigned idx[ZONES_MAX];
	char path[PATH_MAX], types[256] = "";
	size_t tp = 0;
	int nz = list_zones(root, idx, ZONES_MAX);

	if (nz <= 0) {
		snprintf(why, len, "no thermal zones in %s%ssys/class/thermal (no thermal driver "
			 "exposes one; VMs and containers often have none)", root,
			 root[strlen(root) - 1] == '/' ? "" : "/");
		return -ENODEV;
	}
	s->z = calloc((size_t)nz, sizeof *s->z);
	s->ch = calloc((size_t)nz, sizeof *s->ch);
	if (!s->z || !s->ch)
		return -ENOMEM;
	for (int i = 0; i < nz; i++) {
		struct th_zone *z = &s->z[s->n];
		memset(z, 0, sizeof *z);
		z->idx = idx[i];
		if (pbs_path(path, root, "sys/class/thermal/thermal_zone%u/type", z->idx) ||
		    pbs_read_str(path, z->type, sizeof z->type) || !z->type[0])
			snprintf(z->type, sizeof z->type, "zone");
		pbs_cat(types, sizeof types, &tp, "%s%s", tp ? ", " : "", z->type);
		if (!pbs_glob_any(glob, z->type))
			continue;
		if (pbs_path(z->path, root, "sys/class/thermal/thermal_zone%u/temp", z->idx))
			return -ENAMETOOLONG;
		read_trips(root, z);

		struct pb_channel *c = &s->ch[s->n];
		char stem[sizeof c->name - 16] = "";
		pbs_name_add(stem, sizeof stem, z->type);
		snprintf(c->name, sizeof c->name, "%s_%u_temp_c", stem[0] ? stem : "zone", z->idx);
		snprintf(c->unit, sizeof c->unit, "C");
		c->kind = PB_GAUGE;
		s->n++;
	}
	if (!s->n) {
		snprintf(why, len, "no thermal zone type matches zones '%s' (types here: %s)", glob,
			 types);
		return -ESRCH;
	}
	return 0;
}

static int th_read(void *state, double *v)
{
	struct th_state *s = state;

	for (int i = 0; i < s->n; i++) {
		struct th_zone *z = &s->z[i];
		double mc;
		int rc = pbs_read_num(z->path, &mc);
		v[i] = rc ? NAN : mc / 1e3;
		if (rc && rc != -ENODATA && rc != -EAGAIN && !z->warned) {
			z->warned = 1;
			s->host->log(s->host, PB_LOG_WARN, "%s: %s; its readings are NAN", z->path,
				     strerror(-rc));
		}
	}
	return 0;
}

static int th_channels(void *state, const struct pb_channel **ch, int *n)
{
	struct th_state *s = state;
	*ch = s->ch;
	*n = s->n;
	return 0;
}

static int th_describe(void *state, char *yaml, size_t len)
{
	struct th_state *s = state;
	size_t pos = 0;

	pbs_cat(yaml, len, &pos, "zones:\n");
	for (int i = 0; i < s->n; i++) {
		const struct th_zone *z = &s->z[i];
		pbs_cat(yaml, len, &pos, "  - zone: thermal_zone%u\n    type: ", z->idx);
		pbs_cat_yaml_str(yaml, len, &pos, z->type);
		pbs_cat(yaml, len, &pos, "\n    channel: %s\n    trips:%s\n", s->ch[i].name,
			z->ntrips ? "" : " []");
		for (int k = 0; k < z->ntrips; k++) {
			pbs_cat(yaml, len, &pos, "      - type: ");
			pbs_cat_yaml_str(yaml, len, &pos, z->trips[k].type);
			pbs_cat(yaml, len, &pos, "\n        temp_c: %.3f\n", z->trips[k].temp_c);
		}
	}
	return pos < len ? 0 : -ENOSPC;
}

static const struct pbs_scanner th_scanner = {
	.state_size = sizeof(struct th_state),
	.host_offset = offsetof(struct th_state, host),
	.scan = scan,
	.destroy = th_free,
};

static int th_available(const struct pb_host *h, char *why, size_t len)
{
	return pbs_scan_available(&th_scanner, h, why, len);
}

static int th_init(const struct pb_host *h, const void *config, void **state)
{
	const struct th_config *c = config;
	return pbs_scan_init(&th_scanner, h, c->root, sizeof c->root, c->zones, sizeof c->zones,
			     "zones", state);
}

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option th_options[] = {
	PC_OPT_ROOT(struct th_config),
	{ .key = "zones", .type = PB_OPT_STRING, .offset = offsetof(struct th_config, zones),
	  .def = "*", .min = 1, .max = 0,
	  .help = "comma-separated globs on zone types (x86_pkg_temp, acpitz, CPU-therm)" },
	PC_OPT_INTERVAL_MS(struct th_config),
	PB_OPTIONS_END
};

static const struct pb_probe_ops th_ops = {
	.struct_size = sizeof(struct pb_probe_ops),
	.channels = th_channels,
	.read = th_read,
	/* an ACPI zone's read runs firmware code; sensors update far slower */
	.min_interval_ms = 10,
	.describe = th_describe,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PROBE,
	.name = "thermal",
	.version = "1.0.0",
	.summary = "thermal zone temperatures (C) and their trip points",
	.options = th_options,
	.config_size = sizeof(struct th_config),
	.available = th_available,
	.init = th_init,
	.fini = th_free,
	.ops = &th_ops,
};
