/* plugins/common/sysfs.h — small helpers the probes share: reading
 * one-value files (rapl, thermal, hwmon, procstat), joining a fixture
 * `root` with a sysfs or procfs path, channel-name sanitising,
 * comma-separated glob lists, checking an option string is terminated,
 * quoting for the YAML text of describe() (nvml too), and the available()
 * and init() of a probe that scans a file tree (rapl, thermal, hwmon).
 *
 * Header-only on purpose: plugins cannot link the core, and each probe is
 * its own .so, so every probe gets a private copy (all functions static).
 */
#ifndef PB_PLUGINS_SYSFS_H
#define PB_PLUGINS_SYSFS_H

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <prunebench/plugin.h>

#define PBS_UNUSED __attribute__((unused))

/* Whole (small) file into buf, NUL-terminated.  Length or -errno: a
 * sysfs attribute whose driver has no value answers read() with ENODATA
 * or EAGAIN, which comes back here as is. */
static PBS_UNUSED ssize_t pbs_slurp(const char *path, char *buf, size_t cap)
{
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			close(fd);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

/* One line of text (trailing blanks and newline cut).  0 or -errno. */
static PBS_UNUSED int pbs_read_str(const char *path, char *buf, size_t cap)
{
	ssize_t n = pbs_slurp(path, buf, cap);

	if (n < 0)
		return (int)n;
	buf[strcspn(buf, "\n")] = '\0';
	for (size_t l = strlen(buf); l && (buf[l - 1] == ' ' || buf[l - 1] == '\t'); l--)
		buf[l - 1] = '\0';
	return 0;
}

/* A decimal number, alone on its line.  0, -errno, or -EINVAL when the
 * file holds anything else (a driver's "N/A", an empty file). */
static PBS_UNUSED int pbs_read_num(const char *path, double *out)
{
	char buf[64], *end;
	int rc = pbs_read_str(path, buf, sizeof buf);

	if (rc)
		return rc;
	if (!buf[0])
		return -EINVAL;
	errno = 0;
	double v = strtod(buf, &end);
	if (*end || errno)
		return -EINVAL;
	*out = v;
	return 0;
}

/* root + "/" + printf(fmt, ...), without doubling the slash.  0 or
 * -ENAMETOOLONG. */
static PBS_UNUSED __attribute__((format(printf, 3, 4)))
int pbs_path(char out[PATH_MAX], const char *root, const char *fmt, ...)
{
	size_t rl = strlen(root);
	va_list ap;
	int n = snprintf(out, PATH_MAX, "%s%s", root, rl && root[rl - 1] == '/' ? "" : "/");

	if (n < 0 || n >= PATH_MAX)
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	int m = vsnprintf(out + n, PATH_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	return m < 0 || m >= PATH_MAX - n ? -ENAMETOOLONG : 0;
}

/* Append s to a channel name as [a-z0-9_]: letters lower-cased, every run
 * of other characters one '_', none at either end.  Channel names become
 * CSV column names, so they must be plain. */
static PBS_UNUSED void pbs_name_add(char *out, size_t cap, const char *s)
{
	size_t l = strlen(out);
	int sep = l > 0;   /* a '_' goes before the next kept character */

	for (; *s && l + 1 < cap; s++) {
		char c = *s;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			if (sep && l > 0) {
				if (l + 2 >= cap)
					break;
				out[l++] = '_';
			}
			out[l++] = c;
			sep = 0;
		} else {
			sep = 1;
		}
	}
	out[l] = '\0';
}

/* Does name match one of the comma-separated globs in pats ("*",
 * "package*,dram*")?  An empty list matches everything. */
static PBS_UNUSED int pbs_glob_any(const char *pats, const char *name)
{
	char one[256];

	if (!pats[0])
		return 1;
	for (const char *p = pats; *p;) {
		size_t l = strcspn(p, ",");
		while (l && *p == ' ') {
			p++;
			l--;
		}
		if (l < sizeof one) {
			memcpy(one, p, l);
			one[l] = '\0';
			while (l && one[l - 1] == ' ')
				one[--l] = '\0';
			if (l && !fnmatch(one, name, 0))
				return 1;
		}
		p += l;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Text appended to buf[*pos..cap); *pos keeps counting past cap so the
 * caller can tell (*pos >= cap) that it was cut. */
static PBS_UNUSED __attribute__((format(printf, 4, 5)))
void pbs_cat(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(*pos < cap ? buf + *pos : NULL, *pos < cap ? cap - *pos : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n;
}

/* s as a double-quoted YAML scalar: sysfs strings come from drivers and
 * may hold ':' '#' or quotes. */
static PBS_UNUSED void pbs_cat_yaml_str(char *buf, size_t cap, size_t *pos, const char *s)
{
	pbs_cat(buf, cap, pos, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			pbs_cat(buf, cap, pos, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			pbs_cat(buf, cap, pos, "\\x%02x", c);
		else
			pbs_cat(buf, cap, pos, "%c", c);
	}
	pbs_cat(buf, cap, pos, "\"");
}

/* Is a fixed-size option string NUL-terminated (the core guarantees it;
 * a plugin checks anyway, as procstat does)? */
static PBS_UNUSED int pbs_opt_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* A probe that scans a file tree for what a glob list selects (rapl,
 * thermal, hwmon): its state is calloc'd with the host stored at
 * host_offset, filled by scan() from `root`, and freed by destroy(). */
struct pbs_scanner {
	size_t state_size;
	size_t host_offset;     /* of the state's const struct pb_host * */
	int (*scan)(void *state, const char *root, const char *globs, char *why, size_t len);
	void (*destroy)(void *state);
};

static PBS_UNUSED void *pbs_scanner_state(const struct pbs_scanner *sc, const struct pb_host *h)
{
	char *s = calloc(1, sc->state_size);

	if (s)
		memcpy(s + sc->host_offset, &h, sizeof h);
	return s;
}

/* available(): the hook gets no configuration, so the real root and every
 * name.  0, or -errno with why. */
static PBS_UNUSED int pbs_scan_available(const struct pbs_scanner *sc, const struct pb_host *h,
					 char *why, size_t len)
{
	void *s = pbs_scanner_state(sc, h);

	if (!s)
		return -ENOMEM;
	int rc = sc->scan(s, "/", "*", why, len);
	sc->destroy(s);
	return rc;
}

/* init(): root and globs are the probe's option strings of root_size and
 * globs_size bytes (root "" is "/"), globs_key the globs option's name.
 * 0 with *state set, or -errno logged through h. */
static PBS_UNUSED int pbs_scan_init(const struct pbs_scanner *sc, const struct pb_host *h,
				    const char *root, size_t root_size, const char *globs,
				    size_t globs_size, const char *globs_key, void **state)
{
	char why[PATH_MAX + 512];
	void *s;
	int rc;

	if (!pbs_opt_ok(root, root_size) || !pbs_opt_ok(globs, globs_size)) {
		h->log(h, PB_LOG_ERROR, "option root or %s is not terminated", globs_key);
		return -EINVAL;
	}
	if (!(s = pbs_scanner_state(sc, h)))
		return -ENOMEM;
	rc = sc->scan(s, root[0] ? root : "/", globs, why, sizeof why);
	if (rc) {
		h->log(h, PB_LOG_ERROR, "%s", why);
		sc->destroy(s);
		return rc;
	}
	*state = s;
	return 0;
}

#endif
