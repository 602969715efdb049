/* core/run/progress.h — batch progress: a live status line on a TTY
 * (cells done/failed/total, current cell and phase, elapsed, ETA), plain
 * timestamped lines otherwise (CI, Slurm logs).  Written to stderr. */
#ifndef PB_PROGRESS_H
#define PB_PROGRESS_H

struct pb_progress {
	int live, color;
	int total, done, failed, skipped;
	double t_begin, t_cell, cell_ms_sum;
	double last_draw;
	char cell[256], phase[32];
};

void pb_progress_begin(struct pb_progress *p, int live, int color, int total, int skipped);
void pb_progress_start(struct pb_progress *p, const char *cell);
void pb_progress_cell(struct pb_progress *p, const char *cell, const char *phase);
void pb_progress_failed(struct pb_progress *p, const char *cell, const char *reason,
			const char *log_tail);
void pb_progress_end(struct pb_progress *p, const char *cell, int ok, double ms);
void pb_progress_finish(struct pb_progress *p, const char *why);

#endif
