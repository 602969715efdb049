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

/* ---- YAML: 0 when no collection of text nests deeper than max_depth;
 * -E2BIG with the 1-based line and column of the first that does (found
 * while parsing, so a deep document costs no more than a shallow one);
 * -ENOMEM.  A syntax error returns 0: the caller's loader reports it. */
int pb_yaml_depth_check(const void *text, size_t len, int max_depth, size_t *line, size_t *col);

/* ---- JSON: json_load_file() that refuses a folder or FIFO with the
 * reason (e->line 0 then, e->text "cannot read: ...") instead of waiting
 * on it; otherwise jansson's own positions and messages. */
struct json_t;
struct json_error_t;
struct json_t *pb_json_load_file(const char *path, size_t flags, struct json_error_t *e);

/* ---- files */
int pb_mkdir_p(const char *path);                  /* 0 or -errno */
int pb_rm_rf(const char *path);                    /* 0 or -errno; ENOENT is 0 */
/* An error code of ours beside errno's: the path names a FIFO, socket or
 * device where a regular file was expected (reading one would block or
 * never end).  pb_strerror() knows it; use it where such a path can come
 * from the user. */
#define PB_ENOTREG 4096
const char *pb_strerror(int err);                 /* err: errno or -errno */
/* open(2) that refuses anything but a regular file (-EISDIR for a folder,
 * -PB_ENOTREG for a FIFO, socket or device) without blocking on a FIFO;
 * flags as open(2), O_CLOEXEC added.  The fd, or -errno. */
int pb_open_regular(const char *path, int flags);
/* Whole regular file into a NUL-terminated malloc'd buffer; 0 or -errno
 * (the read's own errno, never a generic EIO). */
int pb_read_file(const char *path, char **out, size_t *len);
/* After a failed stdio write: -errno as the failing write(2) left it
 * (ENOSPC, EFBIG, EDQUOT...), -EIO only when stdio left none.  Set errno
 * to 0 before the writes whose failure this reports. */
int pb_io_errno(void);
int pb_write_file(const char *path, const void *p, size_t n);  /* via .tmp + rename */
int pb_path_join(char *out, size_t len, const char *a, const char *b);
/* Directory part of path into out ("." when none). */
void pb_dirname(const char *path, char *out, size_t len);

/* ---- sizes */
/* "2GiB", "512 MiB", "1.5G", "64M", "4000000000": a number, then an
 * optional unit: K M G T and KiB MiB GiB TiB are powers of 1024, kB KB MB
 * GB TB powers of 1000.  0, or -EINVAL / -ERANGE. */
int pb_size_parse(const char *text, uint64_t *out);
/* "2 GiB", "1.5 GiB", "512 MiB", "100 bytes". */
void pb_size_format(uint64_t bytes, char *out, size_t len);

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
