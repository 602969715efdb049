/* core/plugin/scan.h — reading plugin descriptors without running any
 * plugin code in this process (private to the plugin room).
 *
 * The registry scan hands every candidate file to pb_plugin_scan(), which
 * dlopen()s them in a short-lived forked child; the child checks each
 * descriptor (pb_plugin_check, kind and name against the file name) and
 * sends back a copy of it over a pipe.  A constructor that crashes, hangs
 * or exits, or a truncated file, ends only the child: the file gets a
 * one-line cause and the scan goes on with a fresh child from the next
 * file.  The parent dlopen()s a plugin itself only when it is used
 * (pb_plugin_load in registry.h).
 */
#ifndef PB_PLUGIN_SCAN_H
#define PB_PLUGIN_SCAN_H

#include <prunebench/plugin.h>

#include "plugin/registry.h"

/* A descriptor copied out of a plugin file.  Strings point into `frame`
 * (the record the child sent); hooks the plugin has are stubs that abort
 * until pb_plugin_copy_adopt() puts the real ones in place, so a caller
 * that forgot pb_plugin_load() fails loudly instead of seeing "no hook". */
struct pb_plugin_copy {
	struct pb_plugin desc;              /* desc.ops = &ops, desc.options = options */
	union pb_plugin_ops ops;            /* the core's full size (pb_plugin_ops_copy) */
	struct pb_option *options;          /* n + 1 entries, the last all zero; or NULL */
	unsigned char *frame;               /* owns every string above */
	/* lazy loading (registry.c) */
	void *handle;                       /* dlopen handle once loaded */
	int state;                          /* PB_COPY_SCANNED, _LOADED or _FAILED */
	struct pb_plugin_failure failure;   /* when the load in this process failed */
};

enum { PB_COPY_SCANNED = 0, PB_COPY_LOADED, PB_COPY_FAILED };

/* One candidate file.  In: path, kind and name (from the file name).
 * Out: copy (owned by the caller, pb_plugin_copy_free) or why. */
struct pb_scan_item {
	const char *path;
	enum pb_plugin_kind kind;
	const char *name;
	struct pb_plugin_copy *copy;
	char why[512];
};

/* Scan items[0..n) in one child (a fresh one after a file that killed or
 * hung it).  Every item ends with a copy or a why.  timeout_s bounds the
 * time one file may take to load.  0, or -errno when no child could be
 * started (then no item was scanned). */
int pb_plugin_scan(struct pb_scan_item *items, int n, double timeout_s);

/* Is path an ELF file cut short (a segment, the program or section
 * headers past its end)?  1 with why filled, 0 when it is whole or not
 * an ELF file at all (dlopen explains those). */
int pb_elf_truncated(const char *path, char *why, size_t len);

/* Take the real plugin's hooks into the copy (same kind, checked by the
 * caller), so that every pointer to copy->desc sees them; ops is the
 * core's copy of real->ops (pb_plugin_ops_copy). */
void pb_plugin_copy_adopt(struct pb_plugin_copy *copy, const struct pb_plugin *real,
			  const union pb_plugin_ops *ops);
void pb_plugin_copy_free(struct pb_plugin_copy *copy);

/* "SIGSEGV (Segmentation fault)" for a signal number. */
void pb_signal_describe(int sig, char *out, size_t len);

#endif
