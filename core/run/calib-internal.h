/* core/run/calib-internal.h — what the calibration engine's files share
 * behind calib.h: the statistics of one block (calib-stats.c), grouped by
 * linear input, that calib.c fills window by window.  Nobody outside
 * core/run/calib*.c includes this. */
#ifndef PB_RUN_CALIB_INTERNAL_H
#define PB_RUN_CALIB_INTERNAL_H

#include "run/calib.h"

#define PB_CALIB_MAX_LINEARS 16   /* per block; a T5 decoder block has 11 */

/* Statistics shared by the linears that read one input. */
struct pb_calib_group {
	int64_t n_in, n_tokens;
	double *col_sq, *xtx;         /* xtx: upper triangle until finished */
};

struct pb_calib_set {
	unsigned want;                /* PB_CALIB_* */
	int n_threads;                /* for XᵀX */
	struct pb_calib_group groups[PB_CALIB_MAX_LINEARS];
	int n_groups;
	int group_of[PB_CALIB_MAX_LINEARS];
	struct pb_linear_stats stats[PB_CALIB_MAX_LINEARS];
	int n_stats;
	double *xt;                   /* one window's input, transposed, as doubles */
	int64_t xt_cap;
};

/* Empty the set (its arrays freed) for a gathering of `want`. */
void pb_calib_set_reset(struct pb_calib_set *s, unsigned want, int n_threads);
/* Add one window's input x (n × n_in) of the linears `tensors` (k of
 * them, read the same x).  0, or -ENOMEM (also: more linears than a
 * block may have). */
int pb_calib_set_add(struct pb_calib_set *s, const int *tensors, int k, const float *x, int n,
		     int64_t n_in);
/* Complete the XᵀX matrices and point *stats at the entries; their number. */
int pb_calib_set_finish(struct pb_calib_set *s, const struct pb_linear_stats **stats);
void pb_calib_set_free(struct pb_calib_set *s);

#endif
