/* plugins/probes/hwmon/hwmon.c — hardware monitor sensors and power
 * supplies: board power rails (INA2xx/INA3221 on Jetson boards), package
 * temperatures, voltages, currents, and battery power on laptops and
 * battery-powered boards.
 *
 * <root>/sys/class/hwmon/hwmonN/ (or its device/ folder, where older
 * drivers put the attributes), named by `name`:
 *   powerK_input   µW  → <name>_<label>_power_w   GAUGE W
 *                        (powerK_average when there is no _input: amdgpu)
 *   energyK_input  µJ  → <name>_<label>_energy_j  COUNTER J
 *   tempK_input    m°C → <name>_<label>_temp_c    GAUGE C
 *   inK_input      mV  → <name>_<label>_voltage_v GAUGE V
 *   currK_input    mA  → <name>_<label>_current_a GAUGE A
 * <label> is the sensor's *_label (e.g. "VDD_CPU_GPU_CV") or else the
 * sensor ("temp1").  When two devices share a name (coretemp on two
 * sockets) the device's number joins it: coretemp_1_core_0_temp_c.
 *
 * <root>/sys/class/power_supply/S/: power_now (µW), or voltage_now (µV)
 * × current_now (µA) where a driver has no power_now → <S>_power_w.
 * Magnitudes are taken: many fuel gauges report a discharging current
 * (and power) as negative, and the probe reports power drawn.
 *
 * Names are sanitised to [a-z0-9_].  A sensor that fails to read is NAN
 * for that reading; the option `sensors` keeps channels whose names match.
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

#define DEVS_MAX 64
#define CH_MAX 512

struct hw_config {
	char root[PB_OPT_STR_MAX];
	char sensors[PB_OPT_STR_MAX];
	double interval_ms;
};

struct hw_sensor {
	char path[PATH_MAX];      /* value file */
	char path2[PATH_MAX];     /* supply: current_now, when path is voltage_now */
	double div;               /* raw / div = the unit */
	int magnitude;            /* supplies: |value| */
};

struct hw_state {
	const struct pb_host *host;
	int n, cap;
	struct hw_sensor *s;
	struct pb_channel *ch;
};

enum { T_POWER, T_ENERGY, T_TEMP, T_IN, T_CURR };

static const struct {
	const char *prefix, *suffix, *unit;
	double div;
	enum pb_channel_kind kind;
} types[] = {
	[T_POWER] = { "power", "power_w", "W", 1e6, PB_GAUGE },
	[T_ENERGY] = { "energy", "energy_j", "J", 1e6, PB_COUNTER },
	[T_TEMP] = { "temp", "temp_c", "C", 1e3, PB_GAUGE },
	[T_IN] = { "in", "voltage_v", "V", 1e3, PB_GAUGE },
	[T_CURR] = { "curr", "current_a", "A", 1e3, PB_GAUGE },
};
#define N_TYPES (int)(sizeof types / sizeof *types)

static int uint_cmp(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return (x > y) - (x < y);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void hw_free(void *state)
{
	struct hw_state *s = state;
	if (!s)
		return;
	free(s->s);
	free(s->ch);
	free(s);
}

/* A new channel named <stem>_<suffix> (made unique); NULL when full. */
static struct hw_sensor *add(struct hw_state *s, const char *stem, const char *suffix,
			     const char *unit, enum pb_channel_kind kind, const char *glob)
{
	struct pb_channel c = { .kind = kind };
	char base[sizeof c.name - 12] = "";

	if (s->n >= CH_MAX)
		return NULL;
	pbs_name_add(base, sizeof base, stem);
	snprintf(c.name, sizeof c.name, "%s_%s", base, suffix);
	for (int i = 0, k = 2; i < s->n; i++)
		if (!strcmp(s->ch[i].name, c.name)) {
			snprintf(c.name, sizeof c.name, "%s_%d_%s", base, k++, suffix);
			i = -1;
		}
	if (!pbs_glob_any(glob, c.name))
		return NULL;
	snprintf(c.unit, sizeof c.unit, "%s", unit);
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 32;
		struct hw_sensor *ns = realloc(s->s, (size_t)cap * sizeof *ns);
		if (ns)
			s->s = ns;
		struct pb_channel *nc = realloc(s->ch, (size_t)cap * sizeof *nc);
		if (nc)
			s->ch = nc;
		if (!ns || !nc)
			return NULL;
		s->cap = cap;
	}
	s->ch[s->n] = c;
	memset(&s->s[s->n], 0, sizeof s->s[s->n]);
	return &s->s[s->n++];
}

/* Sensor files of one device folder: "<type><K>_input", ordered by type
 * then K. */
struct sensor_id {
	int type;
	unsigned k;
	int average;              /* powerK_average */
};

static int sensor_cmp(const void *a, const void *b)
{
	const struct sensor_id *x = a, *y = b;
	if (x->type != y->type)
		return x->type - y->type;
	return (x->k > y->k) - (x->k < y->k);
}

static int parse_sensor(const char *f, struct sensor_id *id)
{
	for (int t = 0; t < N_TYPES; t++) {
		size_t pl = strlen(types[t].prefix);
		unsigned k;
		int n = -1;
		char tail[16];
		if (strncmp(f, types[t].prefix, pl) || f[pl] < '0' || f[pl] > '9')
			continue;
		if (sscanf(f + pl, "%u_%15[a-z]%n", &k, tail, &n) != 2 || n < 0 || f[pl + (size_t)n])
			continue;
		if (!strcmp(tail, "input"))
			id->average = 0;
		else if (t == T_POWER && !strcmp(tail, "average"))
			id->average = 1;
		else
			continue;
		id->type = t;
		id->k = k;
		return 0;
	}
	return -1;
}

/* <type><k>_label, non-empty.  0 or -errno. */
static int read_label(const char *dir, const char *type, unsigned k, char *out, size_t len)
{
	char path[PATH_MAX];
	int rc = pbs_path(path, dir, "%s%u_label", type, k);

	if (!rc)
		rc = pbs_read_str(path, out, len);
	return rc ? rc : out[0] ? 0 : -ENODATA;
}

/* A current or power without a label of its own takes the label of the
 * voltage with its number: the INA3221 driver labels only inK (its rails,
 * "VDD_IN"), and currK is the same rail. */
static int scan_device(struct hw_state *s, const char *dir, const char *prefix, const char *glob)
{
	struct sensor_id ids[256];
	char label[64], stem[160];
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	for (struct dirent *e; (e = readdir(d)) && n < 256;)
		if (!parse_sensor(e->d_name, &ids[n]))
			n++;
	closedir(d);
	qsort(ids, (size_t)n, sizeof *ids, sensor_cmp);
	for (int i = 0; i < n; i++) {
		const char *tp = types[ids[i].type].prefix;
		/* powerK_average only stands in for a missing powerK_input */
		if (ids[i].average && ((i > 0 && !sensor_cmp(&ids[i - 1], &ids[i])) ||
				       (i + 1 < n && !sensor_cmp(&ids[i + 1], &ids[i]))))
			continue;
		if (read_label(dir, tp, ids[i].k, label, sizeof label) &&
		    ((ids[i].type != T_CURR && ids[i].type != T_POWER) ||
		     read_label(dir, "in", ids[i].k, label, sizeof label)))
			snprintf(label, sizeof label, "%s%u", tp, ids[i].k);
		snprintf(stem, sizeof stem, "%s_%s", prefix, label);
		struct hw_sensor *h = add(s, stem, types[ids[i].type].suffix, types[ids[i].type].unit,
					  types[ids[i].type].kind, glob);
		if (!h)
			continue;
		h->div = types[ids[i].type].div;
		if (pbs_path(h->path, dir, "%s%u_%s", tp, ids[i].k,
			     ids[i].average ? "average" : "input"))
			s->n--;
	}
	return 0;
}

static int scan_hwmon(struct hw_state *s, const char *root, const char *glob)
{
	unsigned idx[DEVS_MAX];
	char dir[PATH_MAX], path[PATH_MAX], names[DEVS_MAX][64], prefix[96];
	int n = 0;

	if (pbs_path(dir, root, "sys/class/hwmon"))
		return -ENAMETOOLONG;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	for (struct dirent *e; (e = readdir(d)) && n < DEVS_MAX;) {
		int end = -1;
		if (sscanf(e->d_name, "hwmon%u%n", &idx[n], &end) == 1 && end > 0 && !e->d_name[end])
			n++;
	}
	closedir(d);
	qsort(idx, (size_t)n, sizeof *idx, uint_cmp);

	int in_device[DEVS_MAX];
	for (int i = 0; i < n; i++) {
		/* attributes beside `name`; older drivers keep them in device/ */
		in_device[i] = 0;
		pbs_path(path, root, "sys/class/hwmon/hwmon%u/name", idx[i]);
		if (!pbs_read_str(path, names[i], sizeof names[i]))
			continue;
		pbs_path(path, root, "sys/class/hwmon/hwmon%u/device/name", idx[i]);
		if (!pbs_read_str(path, names[i], sizeof names[i]))
			in_device[i] = 1;
		else
			snprintf(names[i], sizeof names[i], "hwmon%u", idx[i]);
	}
	for (int i = 0; i < n; i++) {
		int shared = 0;
		for (int j = 0; j < n; j++)
			shared |= j != i && !strcmp(names[i], names[j]);
		if (shared)
			snprintf(prefix, sizeof prefix, "%s_%u", names[i], idx[i]);
		else
			snprintf(prefix, sizeof prefix, "%s", names[i]);
		if (!pbs_path(dir, root, "sys/class/hwmon/hwmon%u%s", idx[i],
			      in_device[i] ? "/device" : ""))
			scan_device(s, dir, prefix, glob);
	}
	return 0;
}

static int scan_supplies(struct hw_state *s, const char *root, const char *glob)
{
	char dir[PATH_MAX], pw[PATH_MAX], vo[PATH_MAX], cu[PATH_MAX];
	char *names[DEVS_MAX];
	int n = 0;

	if (pbs_path(dir, root, "sys/class/power_supply"))
		return -ENAMETOOLONG;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	for (struct dirent *e; (e = readdir(d)) && n < DEVS_MAX;)
		if (e->d_name[0] != '.' && (names[n] = strdup(e->d_name)))
			n++;
	closedir(d);
	qsort(names, (size_t)n, sizeof *names, str_cmp);
	for (int i = 0; i < n; i++) {
		if (pbs_path(pw, dir, "%s/power_now", names[i]) ||
		    pbs_path(vo, dir, "%s/voltage_now", names[i]) ||
		    pbs_path(cu, dir, "%s/current_now", names[i]))
			continue;
		int has_p = access(pw, F_OK) == 0;
		/* mains and USB supplies have neither: nothing to measure */
		if (!has_p && (access(vo, F_OK) || access(cu, F_OK)))
			continue;
		struct hw_sensor *h = add(s, names[i], "power_w", "W", PB_GAUGE, glob);
		if (!h)
			continue;
		h->div = 1e6;
		h->magnitude = 1;
		if (has_p) {
			snprintf(h->path, sizeof h->path, "%s", pw);
		} else {
			snprintf(h->path, sizeof h->path, "%s", vo);
			snprintf(h->path2, sizeof h->path2, "%s", cu);
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	return 0;
}

/* Every sensor under root matching glob.  0 or -errno with why. */
static int scan(void *state, const char *root, const char *glob, char *why, size_t len)
{
	struct hw_state *s = state;
	int rh = scan_hwmon(s, root, glob), rs = scan_supplies(s, root, glob);

	if (s->n)
		return 0;
	const char *sl = root[strlen(root) - 1] == '/' ? "" : "/";
	if (rh && rs)
		snprintf(why, len, "no %s%ssys/class/hwmon (%s) nor %s%ssys/class/power_supply (%s): "
			 "no sensor drivers here (VMs and containers have none; on a board load "
			 "its driver, e.g. sudo modprobe ina3221)", root, sl, strerror(-rh),
			 root, sl, strerror(-rs));
	else if (strcmp(glob, "*"))
		snprintf(why, len, "no hwmon sensor or power supply channel matches sensors '%s'",
			 glob);
	else
		snprintf(why, len, "no power, energy, temperature, voltage or current sensor in "
			 "%s%ssys/class/hwmon and no power supply reporting power in "
			 "%s%ssys/class/power_supply", root, sl, root, sl);
	return -ENODEV;
}

static int hw_read(void *state, double *v)
{
	struct hw_state *s = state;

	for (int i = 0; i < s->n; i++) {
		const struct hw_sensor *h = &s->s[i];
		double a, b;
		v[i] = NAN;
		if (pbs_read_num(h->path, &a))
			continue;
		if (h->path2[0]) {
			if (pbs_read_num(h->path2, &b))
				continue;
			v[i] = (a / h->div) * (b / h->div);
		} else {
			v[i] = a / h->div;
		}
		if (h->magnitude)
			v[i] = fabs(v[i]);
	}
	return 0;
}

static int hw_channels(void *state, const struct pb_channel **ch, int *n)
{
	struct hw_state *s = state;
	*ch = s->ch;
	*n = s->n;
	return 0;
}

static int hw_describe(void *state, char *yaml, size_t len)
{
	struct hw_state *s = state;
	size_t pos = 0;

	pbs_cat(yaml, len, &pos, "sensors:%s\n", s->n ? "" : " []");
	for (int i = 0; i < s->n; i++) {
		pbs_cat(yaml, len, &pos, "  - channel: %s\n    file: ", s->ch[i].name);
		pbs_cat_yaml_str(yaml, len, &pos, s->s[i].path);
		if (s->s[i].path2[0]) {
			pbs_cat(yaml, len, &pos, "\n    times: ");
			pbs_cat_yaml_str(yaml, len, &pos, s->s[i].path2);
		}
		pbs_cat(yaml, len, &pos, "\n");
	}
	return pos < len ? 0 : -ENOSPC;
}

static const struct pbs_scanner hw_scanner = {
	.state_size = sizeof(struct hw_state),
	.host_offset = offsetof(struct hw_state, host),
	.scan = scan,
	.destroy = hw_free,
};

static int hw_available(const struct pb_host *h, char *why, size_t len)
{
	return pbs_scan_available(&hw_scanner, h, why, len);
}

static int hw_init(const struct pb_host *h, const void *config, void **state)
{
	const struct hw_config *c = config;
	return pbs_scan_init(&hw_scanner, h, c->root, sizeof c->root, c->sensors,
			     sizeof c->sensors, "sensors", state);
}

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option hw_options[] = {
	PC_OPT_ROOT(struct hw_config),
	{ .key = "sensors", .type = PB_OPT_STRING, .offset = offsetof(struct hw_config, sensors),
	  .def = "*", .min = 1, .max = 0,
	  .help = "comma-separated globs on channel names (ina3221_*_power_w, bat0_power_w)" },
	PC_OPT_INTERVAL_MS(struct hw_config),
	PB_OPTIONS_END
};

static const struct pb_probe_ops hw_ops = {
	.struct_size = sizeof(struct pb_probe_ops),
	.channels = hw_channels,
	.read = hw_read,
	/* I2C power monitors convert every ms or so; reads cost a bus transfer */
	.min_interval_ms = 10,
	.describe = hw_describe,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PROBE,
	.name = "hwmon",
	.version = "1.0.0",
	.summary = "hwmon power/energy/temperature/voltage/current sensors and power supplies",
	.options = hw_options,
	.config_size = sizeof(struct hw_config),
	.available = hw_available,
	.init = hw_init,
	.fini = hw_free,
	.ops = &hw_ops,
};
