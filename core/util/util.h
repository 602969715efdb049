/* core/util/util.h — small services every core room uses: logging,
 * hashing (sha256 through libcrypto), files and time. */
#ifndef PB_UTIL_H
#define PB_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <prunebench/plugin.h>

/* ---- log: stderr, "prunebench: " prefixed; level filtered by pb_log_level_set */
void pb_log_level_set(enum pb_log_level max);
enum pb_log_level pb_log_level_get(void);
void pb_log(enum pb_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pb_logv(enum pb_log_level lvl, const char *prefix, const char *fmt, va_list ap);
/* fn gets the first error-level message logged after this call (without
 * the "prunebench: " and "error: " tags; a plugin's name stays in front),
 * once: how a forked cell tells its parent why it failed.  NULL: none. */
void pb_log_on_first_error(void (*fn)(const char *msg, void *ctx), void *ctx);
/* The errors logged so far were not fatal: the next one is "first" again. */
void pb_log_first_error_rearm(void);

/* Format into err (when non-NULL) and return rc: `return pb_errf(err, len,
 * -EINVAL, "...")` reports and fails in one line. */
int pb_errf(char *err, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* snprintf whose truncation is intended (facts and reasons cut short). */
void pb_sayf(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- hashing: lower-case hex, NUL-terminated */
struct pb_sha256;                                  /* incremental */
struct pb_sha256 *pb_sha256_new(void);
void pb_sha256_update(struct pb_sha256 *h, const void *p, size_t n);
void pb_sha256_final(struct pb_sha256 *h, char hex[65]);  /* frees h */
void pb_sha256_buf(const void *p, size_t n, char hex[65]);
int pb_sha256_file(const char *path, char hex[65]);       /* 0 or -errno */
uint64_t pb_fnv1a64(const void *p, size_t n);

/* ---- files */
int pb_mkdir_p(const char *path);                  /* 0 or -errno */
int pb_rm_rf(const char *path);                    /* 0 or -errno; ENOENT is 0 */
/* Whole file into a NUL-terminated malloc'd buffer; 0 or -errno. */
int pb_read_file(const char *path, char **out, size_t *len);
int pb_write_file(const char *path, const void *p, size_t n);  /* via .tmp + rename */
int pb_path_join(char *out, size_t len, const char *a, const char *b);
/* Directory part of path into out ("." when none). */
void pb_dirname(const char *path, char *out, size_t len);

/* ---- time */
double pb_now_ms(void);          /* CLOCK_MONOTONIC, milliseconds */
void pb_iso8601_now(char *out, size_t len);  /* UTC, e.g. 2026-11-21T10:00:00Z */

/* ---- deterministic randomness (splitmix64 / xoshiro256**) */
struct pb_rng { uint64_t s[4]; };
void pb_rng_seed(struct pb_rng *r, uint64_t seed);
uint64_t pb_rng_next(struct pb_rng *r);
double pb_rng_uniform(struct pb_rng *r);   /* [0, 1) */
double pb_rng_normal(struct pb_rng *r);    /* N(0, 1) */

#define PB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
