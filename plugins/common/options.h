/* plugins/common/options.h — option-table entries that several plugins
 * declare word for word, as designated-initialiser macros, so that the
 * key, bounds and help stay the same in each (`prunebench plugins NAME`
 * shows them).  Header-only: an option table is static data of each
 * plugin.  Entries one plugin alone declares stay in that plugin's table,
 * and so do the ones that only look alike (rapl's interval_ms has other
 * bounds than the other probes', nm's n and m other defaults than wanda's).
 */
#ifndef PB_PLUGINS_OPTIONS_H
#define PB_PLUGINS_OPTIONS_H

#include <stddef.h>

#include <prunebench/plugin.h>

/* Structured pruners (heads, ffn, layers): the calibration size, int64_t
 * fields nsamples and seqlen of config type T, 0 meaning the dataset's
 * `calibration:`; `when` says which setting uses it, e.g. "importance:
 * activation". */
#define PC_OPT_CALIB_OR_DATASET(T, when)						\
	{ .key = "nsamples", .type = PB_OPT_INT, .offset = offsetof(T, nsamples),	\
	  .def = "0", .min = 0, .max = 65536,						\
	  .help = "calibration sequences (" when "); 0: the dataset's `calibration: {count}` (else 32)" }, \
	{ .key = "seqlen", .type = PB_OPT_INT, .offset = offsetof(T, seqlen),		\
	  .def = "0", .min = 0, .max = 1 << 20,						\
	  .help = "tokens per calibration sequence; 0: the dataset's `calibration: {seqlen}` (else 128)" }

/* Probes reading a file tree (rapl, thermal, hwmon): `root`, a
 * char[PB_OPT_STR_MAX] field of T. */
#define PC_OPT_ROOT(T)									\
	{ .key = "root", .type = PB_OPT_STRING, .offset = offsetof(T, root),		\
	  .def = "/", .min = 1, .max = 0,						\
	  .help = "folder holding sys/ (tests point this at fixture trees)" }

/* Probes sampled at the cell's rate unless told (thermal, hwmon, nvml):
 * `interval_ms`, a double field of T. */
#define PC_OPT_INTERVAL_MS(T)								\
	{ .key = "interval_ms", .type = PB_OPT_DOUBLE, .offset = offsetof(T, interval_ms), \
	  .def = "0", .min = 0, .max = 60000,						\
	  .help = "sampling interval; 0: the cell's default (50 ms)" }

#endif
