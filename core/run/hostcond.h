/* core/run/hostcond.h — the machine around a cell, read without any
 * probe: other processes' CPU use, the load average and the CPU
 * frequency (from <root>/proc and <root>/sys, root "/" unless a test
 * points it at a fixture tree), and the wait for a quiet machine
 * (`prunebench run --wait-quiet`).
 *
 * Others' CPU is the system's busy CPU time (<root>/proc/stat, the "cpu "
 * line: every field but idle and iowait, all CPUs together) minus this
 * process's own (<root>/proc/self/stat utime + stime, all its threads),
 * in % of one core: 100 is one core kept busy by someone else.  Both
 * come in clock ticks (USER_HZ, 100 a second), so over a short interval
 * the figure is noisy by a tick or two per CPU; callers aggregate over
 * long stretches (sampler-host.c).
 *
 * The sampler's side (per-phase aggregates, phases.csv rows, summary
 * columns) is in sampler-host.c; its contract is at the end of sampler.h.
 */
#ifndef PB_HOSTCOND_H
#define PB_HOSTCOND_H

struct pb_host_reading {
	double busy_ticks;     /* all CPUs; NAN unreadable */
	double self_ticks;     /* this process, all threads; NAN unreadable */
	double loadavg_1m;     /* NAN unavailable */
	double cpu_freq_mhz;   /* mean over CPUs; NAN unavailable */
};

struct pb_hostcond;

/* root NULL or "" is "/".  Never fails for a missing file (its figures
 * read NAN); 0 or -ENOMEM. */
int pb_hostcond_open(struct pb_hostcond **out, const char *root);
/* A process whose CPU counts as ours, not others' (a served cell's
 * server, set before the sampler opens its reader); 0: none. */
extern int pb_hostcond_also_pid;
void pb_hostcond_close(struct pb_hostcond *h);

/* What to read: CPU counters always; load average and frequency only
 * with PB_HC_SLOW (a /proc/cpuinfo read costs much more than the rest). */
#define PB_HC_SLOW 1u
void pb_hostcond_read(struct pb_hostcond *h, unsigned flags, struct pb_host_reading *r);

/* Where the frequency comes from: "cpufreq", "cpuinfo" or "unavailable". */
const char *pb_hostcond_freq_source(const struct pb_hostcond *h);

/* USER_HZ: clock ticks a second. */
double pb_hostcond_tck(void);

/* Others' CPU in ticks between readings a and b: (busy_b − busy_a) −
 * (self_b − self_a); NAN when either is unreadable.  Can be slightly
 * negative: the two files are not read at the same instant and the
 * kernel accounts them differently within a tick. */
double pb_host_other_ticks(const struct pb_host_reading *a, const struct pb_host_reading *b);
/* ... as % of one core over dt_ms. */
double pb_host_other_pct(const struct pb_host_reading *a, const struct pb_host_reading *b,
			 double dt_ms, double tck);

/* ---- waiting for a quiet machine ---------------------------------------- */

#define PB_QUIET_WINDOW_MS 1000.0

struct pb_quiet_result {
	int ran;                 /* a wait was asked for */
	double max_s;            /* the bound it ran under */
	double waited_s;
	int timed_out;           /* still not quiet after max_s */
	double other_cpu_pct;    /* others' CPU over the last window; NAN unknown */
	int windows;             /* windows measured */
};

struct pb_quiet_opts {
	const char *root;                      /* NULL: "/" */
	double window_ms;                      /* default PB_QUIET_WINDOW_MS */
	void (*sleep_ms)(void *ctx, double ms);   /* default nanosleep; tests move fixtures in it */
	void *ctx;
};

/* Measure others' CPU over consecutive windows until one is below
 * threshold_pct, or until max_s seconds have passed (the last window is
 * cut to fit, so this returns within max_s plus the cost of two reads).
 * Without readable CPU counters it returns at once, ran = 1 and
 * other_cpu_pct NAN.  Returns 0 when quiet, 1 when timed out or unknown. */
int pb_wait_quiet(double threshold_pct, double max_s, const struct pb_quiet_opts *o,
		  struct pb_quiet_result *r);

/* `--wait-quiet` of the batch, set by the runner before it forks cells
 * (seconds, 0 = off); cell.c reads it. */
void pb_wait_quiet_set(double max_s);
double pb_wait_quiet_get(void);

#endif
