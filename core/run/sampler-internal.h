/* core/run/sampler-internal.h — the sampler's state, shared by the
 * sampling side (sampler.c) and the results side (sampler-out.c). */
#ifndef PB_SAMPLER_INTERNAL_H
#define PB_SAMPLER_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include "run/sampler.h"

struct chan_agg {
	double delta;             /* COUNTER: summed over occurrences */
	int have_delta;
	double integral, weight;  /* GAUGE: ∫v dt and ∫dt where a value was held */
	double sum, max;          /* GAUGE: over readings (the mean's fallback) */
	long n;
	double energy_j;          /* W GAUGE: trapezoid ∫P dt over the phase, J */
	int have_energy;
	double pmax;              /* J COUNTER: highest power over one sampling interval, W */
};

/* What a channel says about energy (pb_sampler_energy_kind). */
enum { ENERGY_NONE = PB_ENERGY_NONE, ENERGY_COUNTER = PB_ENERGY_COUNTER,
       ENERGY_POWER = PB_ENERGY_POWER };

struct probe_rt {
	struct pb_probe_inst inst;
	const struct pb_channel *ch;
	int nch;
	double base_ms, interval_ms, next_ms;
	int backing_off, logged;
	double *vals;      /* nch: scratch for read() */
	double *raw_prev;  /* nch: last raw COUNTER reading, for unwrapping */
	double *offset;    /* nch: wraps added so far */
	double *cur;       /* nch: latest unwrapped COUNTER value / held GAUGE value */
	double *hold_t;    /* nch: GAUGE: when the held value started */
	double *cstart;    /* nch: COUNTER: value when the current phase began */
	unsigned char *ekind;   /* nch: ENERGY_* */
	double *tz_t, *tz_v;    /* nch: W: the last reading, the trapezoid's left edge */
	double *pw_t, *pw_v;    /* nch: J: the reading power is measured from */
	double *idle_w;         /* nch: mean idle power from the baseline; NAN none */
	struct chan_agg *agg;   /* PB_PHASE_COUNT × nch */
	/* stored readings: t[i], phase[i], v[i * nch + c] */
	double *st, *sv;
	unsigned char *sp;
	size_t ns, cap;
};

struct pb_sampler {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	int thread_started, stopping, stopped;
	double (*clock_ms)(void *ctx);
	void *clock_ctx;
	double t0;
	enum pb_phase phase;
	double phase_start;
	double dur_ms[PB_PHASE_COUNT];
	int occ[PB_PHASE_COUNT];
	struct probe_rt *p;
	int n;
	size_t max_values, n_values;
	int cap_logged;
	double baseline_ms;     /* length of the idle baseline; 0 none */
	struct pb_host_rt *host;   /* host channels (sampler-host.c); NULL none */
};

/* GAUGE/COUNTER aggregate of channel c in phase ph */
struct chan_agg *pb_sampler_agg(const struct probe_rt *p, enum pb_phase ph, int c);

/* The probe and index of a channel by name, or NULL. */
const struct probe_rt *pb_sampler_find(const struct pb_sampler *s, const char *name, int *c);

/* Aggregate channel c of p over the phases whose bit is set in mask
 * (caller holds the lock). */
void pb_sampler_stat_over(const struct pb_sampler *s, const struct probe_rt *p, int c,
			  unsigned mask, struct pb_phase_stat *st);

void pb_sampler_lock(const struct pb_sampler *s);
void pb_sampler_unlock(const struct pb_sampler *s);

/* host channels (sampler-host.c); called with the lock held */
struct pb_host_rt;
int pb_host_rt_start(struct pb_host_rt **out, const struct pb_sampler_opts *o,
		     enum pb_phase first, double t);
void pb_host_rt_free(struct pb_host_rt *h);
double pb_host_rt_due(const struct pb_host_rt *h);   /* INFINITY for NULL */
void pb_host_rt_tick(struct pb_host_rt *h, enum pb_phase cur, double t);
void pb_host_rt_boundary(struct pb_host_rt *h, enum pb_phase old, enum pb_phase next,
			 double t, int final);
/* phases.csv rows of phase ph */
struct pb_csv;
int pb_sampler_host_rows(const struct pb_sampler *s, struct pb_csv *w, enum pb_phase ph,
			 const char *dur);

#endif
