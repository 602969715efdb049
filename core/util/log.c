/* core/util/log.c — the one logger: timestamped lines on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "util.h"

static enum pb_log_level max_level = PB_LOG_INFO;
static void (*first_error_fn)(const char *msg, void *ctx);
static void *first_error_ctx;
static int first_error_seen;

void pb_log_level_set(enum pb_log_level max) { max_level = max; }
enum pb_log_level pb_log_level_get(void) { return max_level; }

void pb_logv(enum pb_log_level lvl, const char *prefix, const char *fmt, va_list ap)
{
	static const char *const tag[] = { "error", "warning", "info", "debug" };
	char line[4096];
	if (lvl > max_level)
		return;
	int n = snprintf(line, sizeof line, "prunebench: %s%s%s: ", prefix ? prefix : "",
			 prefix ? ": " : "", tag[lvl]);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	va_list ap2;
	va_copy(ap2, ap);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	/* one write per line so that lines from threads and children do not mix */
	fprintf(stderr, "%s\n", line);
	if (lvl == PB_LOG_ERROR && first_error_fn &&
	    !__atomic_exchange_n(&first_error_seen, 1, __ATOMIC_SEQ_CST)) {
		char msg[2048];
		int m = snprintf(msg, sizeof msg, "%s%s", prefix ? prefix : "", prefix ? ": " : "");
		if (m < 0 || (size_t)m >= sizeof msg)
			m = 0;
		vsnprintf(msg + m, sizeof msg - (size_t)m, fmt, ap2);
		first_error_fn(msg, first_error_ctx);
	}
	va_end(ap2);
}

void pb_log_on_first_error(void (*fn)(const char *msg, void *ctx), void *ctx)
{
	first_error_fn = fn;
	first_error_ctx = ctx;
	__atomic_store_n(&first_error_seen, 0, __ATOMIC_SEQ_CST);
}

void pb_log_first_error_rearm(void)
{
	__atomic_store_n(&first_error_seen, 0, __ATOMIC_SEQ_CST);
}

void pb_log(enum pb_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pb_logv(lvl, NULL, fmt, ap);
	va_end(ap);
}

int pb_errf(char *err, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && len)
		vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return rc;
}

void pb_sayf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}
