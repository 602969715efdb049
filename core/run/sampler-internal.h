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
};

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
};

/* GAUGE/COUNTER aggregate of channel c in phase ph */
struct chan_agg *pb_sampler_agg(const struct probe_rt *p, enum pb_phase ph, int c);

#endif
