/* core/util/size.c — byte sizes as people write them ("2GiB", "512 MiB",
 * "1.5G", "4000000000") and as prunebench prints them ("2 GiB"). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

int pb_size_parse(const char *text, uint64_t *out)
{
	static const struct { const char *unit; double mul; } units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1024.0 }, { "KiB", 1024.0 }, { "kB", 1e3 }, { "KB", 1e3 },
		{ "M", 1048576.0 }, { "MiB", 1048576.0 }, { "MB", 1e6 },
		{ "G", 1073741824.0 }, { "GiB", 1073741824.0 }, { "GB", 1e9 },
		{ "T", 1099511627776.0 }, { "TiB", 1099511627776.0 }, { "TB", 1e12 },
	};
	char *end;
	if (!text || !((text[0] >= '0' && text[0] <= '9') || text[0] == '.'))
		return -EINVAL;
	errno = 0;
	double v = strtod(text, &end);
	if (end == text || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < PB_ARRAY_LEN(units); i++)
		if (!strcmp(end, units[i].unit)) {
			double b = v * units[i].mul;
			if (b >= 18446744073709551616.0)
				return -ERANGE;
			if (b != floor(b))
				b = floor(b);
			*out = (uint64_t)b;
			return 0;
		}
	return -EINVAL;
}

void pb_size_format(uint64_t bytes, char *out, size_t len)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t u = 0;
	while (u + 1 < PB_ARRAY_LEN(units) && v >= 1024.0) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%llu bytes", (unsigned long long)bytes);
	else
		snprintf(out, len, "%.4g %s", v, units[u]);
}
