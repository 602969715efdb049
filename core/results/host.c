/* core/results/host.c — the host facts a manifest records so that a cell
 * can be compared or repeated: CPU model, cores, frequency governor,
 * kernel and hostname.  Every field gets a value ("unknown",
 * "unavailable") so the manifest never has holes. */
#include <ctype.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "results.h"
#include "util/util.h"

static void trim_copy(char *out, size_t len, const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	snprintf(out, len, "%.*s", (int)n, s);
}

/* x86 says "model name"; ARM kernels say some of "Model" (a board, e.g. a
 * Raspberry Pi), "Hardware" (the SoC) and "CPU part" (a core id). */
static void cpu_model(char *out, size_t len)
{
	static const char *const keys[] = { "model name", "Model", "Hardware", "CPU part" };
	char found[PB_ARRAY_LEN(keys)][256] = { { 0 } };
	char line[1024];
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		char key[64];
		trim_copy(key, sizeof key, line);
		for (size_t i = 0; i < PB_ARRAY_LEN(keys); i++)
			if (!found[i][0] && !strcmp(key, keys[i]))
				trim_copy(found[i], sizeof found[i], colon + 1);
	}
	if (f)
		fclose(f);
	for (size_t i = 0; i < PB_ARRAY_LEN(keys); i++) {
		if (!found[i][0])
			continue;
		if (!strcmp(keys[i], "CPU part"))
			break;   /* a bare part number: prefer the device tree's board name */
		pb_sayf(out, len, "%s", found[i]);
		return;
	}
	char *dt = NULL;
	if (pb_read_file("/sys/firmware/devicetree/base/model", &dt, NULL) == 0) {
		trim_copy(out, len, dt);   /* NUL-terminated in the file itself */
		free(dt);
		if (out[0])
			return;
	}
	if (found[3][0])
		pb_sayf(out, len, "CPU part %s", found[3]);
	else
		snprintf(out, len, "unknown");
}

static int cores_allowed(void)
{
	long conf = sysconf(_SC_NPROCESSORS_CONF);
	/* The kernel's mask may be wider than the configured count. */
	for (int n = conf > 0 ? (int)conf : 64; n <= 1 << 16; n *= 2) {
		cpu_set_t *set = CPU_ALLOC(n);
		size_t size = CPU_ALLOC_SIZE(n);
		if (!set)
			return -1;
		CPU_ZERO_S(size, set);
		if (sched_getaffinity(0, size, set) == 0) {
			int c = CPU_COUNT_S(size, set);
			CPU_FREE(set);
			return c;
		}
		CPU_FREE(set);
	}
	return -1;
}

void pb_host_info_read(struct pb_host_info *hi)
{
	struct utsname u;
	char *gov = NULL;

	memset(hi, 0, sizeof *hi);
	cpu_model(hi->cpu_model, sizeof hi->cpu_model);
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	hi->cores_online = online > 0 ? (int)online : 1;
	hi->cores_allowed = cores_allowed();
	if (hi->cores_allowed < 1)
		hi->cores_allowed = hi->cores_online;

	if (pb_read_file("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", &gov, NULL) == 0) {
		trim_copy(hi->governor, sizeof hi->governor, gov);
		free(gov);
	}
	if (!hi->governor[0])
		snprintf(hi->governor, sizeof hi->governor, "unavailable");

	if (uname(&u) == 0) {
		pb_sayf(hi->kernel, sizeof hi->kernel, "%s %s %s %s",
			 u.sysname, u.release, u.version, u.machine);
		snprintf(hi->hostname, sizeof hi->hostname, "%s", u.nodename);
	} else {
		snprintf(hi->kernel, sizeof hi->kernel, "unknown");
	}
	if (!hi->hostname[0] && gethostname(hi->hostname, sizeof hi->hostname - 1) < 0)
		hi->hostname[0] = '\0';
	if (!hi->hostname[0])
		snprintf(hi->hostname, sizeof hi->hostname, "unknown");
}
