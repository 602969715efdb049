/* core/run/progress.c — see progress.h.  The live line is redrawn at most
 * 10 times a second; finished cells are printed as ordinary lines above it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/progress.h"
#include "util/util.h"

static void hms(double ms, char *out, size_t len)
{
	long s = (long)(ms / 1e3 + 0.5);
	if (s >= 3600)
		snprintf(out, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(out, len, "%ld:%02ld", s / 60, s % 60);
}

static const char *col(const struct pb_progress *p, const char *code)
{
	return p->color ? code : "";
}

static void clear_line(struct pb_progress *p)
{
	if (p->live)
		fputs("\r\033[K", stderr);
}

static void draw(struct pb_progress *p)
{
	char el[32], eta[32] = "?";
	double now = pb_now_ms();
	int finished = p->done + p->failed;
	if (!p->live || now - p->last_draw < 100)
		return;
	p->last_draw = now;
	hms(now - p->t_begin, el, sizeof el);
	if (finished > 0) {
		double per = p->cell_ms_sum / finished;
		double left = per * (p->total - finished) - (now - p->t_cell);
		hms(left > 0 ? left : 0, eta, sizeof eta);
	}
	fprintf(stderr, "\r\033[K[%d/%d] %s%d failed%s · %s · %s · %s elapsed · ETA %s",
		finished, p->total, p->failed ? col(p, "\033[31m") : "", p->failed,
		p->failed ? col(p, "\033[0m") : "", p->cell, p->phase, el, eta);
	fflush(stderr);
}

static void line(struct pb_progress *p, const char *fmt, const char *a, const char *b)
{
	char ts[32];
	clear_line(p);
	pb_iso8601_now(ts, sizeof ts);
	fprintf(stderr, "%s ", ts);
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	p->last_draw = 0;
	draw(p);
}

void pb_progress_begin(struct pb_progress *p, int live, int color, int total, int skipped)
{
	memset(p, 0, sizeof *p);
	int tty = isatty(STDERR_FILENO);
	p->live = live < 0 ? tty : live;
	p->color = color < 0 ? tty && !getenv("NO_COLOR") : color;
	p->total = total;
	p->skipped = skipped;
	p->t_begin = pb_now_ms();
	if (pb_log_level_get() < PB_LOG_INFO)
		p->live = 0;
	if (pb_log_level_get() >= PB_LOG_INFO) {
		char msg[128];
		snprintf(msg, sizeof msg, "%d cells to run, %d already done", total, skipped);
		line(p, "%s%s", msg, "");
	}
}

void pb_progress_start(struct pb_progress *p, const char *cell)
{
	char msg[64];
	snprintf(p->cell, sizeof p->cell, "%s", cell);
	snprintf(p->phase, sizeof p->phase, "start");
	p->t_cell = pb_now_ms();
	if (!p->live && pb_log_level_get() >= PB_LOG_INFO) {
		snprintf(msg, sizeof msg, "[%d/%d] ", p->done + p->failed + 1, p->total);
		line(p, "%sstart %s", msg, cell);
	}
	draw(p);
}

void pb_progress_cell(struct pb_progress *p, const char *cell, const char *phase)
{
	if (strcmp(p->phase, phase)) {
		snprintf(p->phase, sizeof p->phase, "%s", phase);
		if (!p->live && pb_log_level_get() >= PB_LOG_DEBUG)
			line(p, "  %s: %s", cell, phase);
	}
	draw(p);
}

void pb_progress_failed(struct pb_progress *p, const char *cell, const char *reason,
			const char *log_tail)
{
	char msg[1024];
	snprintf(msg, sizeof msg, "%sFAILED%s %s: ", col(p, "\033[31m"), col(p, "\033[0m"), cell);
	line(p, "%s%s", msg, reason);
	if (log_tail && log_tail[0] && pb_log_level_get() >= PB_LOG_WARN) {
		clear_line(p);
		fprintf(stderr, "  --- last lines of its run.log ---\n");
		for (const char *s = log_tail; *s;) {
			const char *nl = strchr(s, '\n');
			int n = nl ? (int)(nl - s) : (int)strlen(s);
			fprintf(stderr, "  | %.*s\n", n, s);
			s += n + (nl ? 1 : 0);
		}
	}
}

void pb_progress_end(struct pb_progress *p, const char *cell, int ok, double ms)
{
	char msg[128], dur[32];
	if (ok)
		p->done++;
	else
		p->failed++;
	p->cell_ms_sum += ms;
	hms(ms, dur, sizeof dur);
	if (ok && pb_log_level_get() >= PB_LOG_INFO) {
		snprintf(msg, sizeof msg, "[%d/%d] %sdone%s ", p->done + p->failed, p->total,
			 col(p, "\033[32m"), col(p, "\033[0m"));
		char tail[384];
		snprintf(tail, sizeof tail, "%s in %s", cell, dur);
		line(p, "%s%s", msg, tail);
	}
}

void pb_progress_finish(struct pb_progress *p, const char *why)
{
	char el[32], msg[256], left[48] = "";
	clear_line(p);
	p->live = 0;
	hms(pb_now_ms() - p->t_begin, el, sizeof el);
	/* a batch that stopped early accounts for every cell it was given */
	if (why && p->done + p->failed < p->total)
		snprintf(left, sizeof left, ", %d not run", p->total - p->done - p->failed);
	snprintf(msg, sizeof msg, "%d done, %d failed, %d skipped (already done)%s in %s",
		 p->done, p->failed, p->skipped, left, el);
	if (pb_log_level_get() >= PB_LOG_WARN || p->failed)
		line(p, why ? "%s (%s)" : "%s%s", msg, why ? why : "");
}
