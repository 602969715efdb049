/* core/results/status.c — is a cell done, failed or still to run?  Read
 * from its folder: <id>/manifest.yaml (status, reason) exists only in a
 * complete cell, because cells are written as <id>.tmp and renamed. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "results.h"
#include "util/util.h"

const char *pb_cell_status_name(enum pb_cell_status s)
{
	switch (s) {
	case PB_CELL_DONE:
		return "done";
	case PB_CELL_FAILED:
		return "failed";
	case PB_CELL_PENDING:
		break;
	}
	return "pending";
}

#define MANIFEST_MAX_DEPTH 64   /* ours nest 4 levels */

struct manifest_head {
	char status[32];
	char *reason;    /* malloc'd */
	int has_status;
};

/* Walks the event stream of the first document and keeps the scalar
 * values of the top-level keys `status` and `reason`; anything nested is
 * skipped, so the rest of the manifest may hold whatever it likes. */
static int scan_manifest(const char *path, struct manifest_head *h, char *why, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	char *text = NULL;
	size_t n = 0;
	int depth = 0, err, done = 0;
	int expect_key = 1;          /* at depth 1: the next scalar is a key */
	char key[32] = "";

	if ((err = pb_read_file(path, &text, &n)) < 0) {
		pb_sayf(why, len, "%s: %s", path, pb_strerror(err));
		return err;
	}
	if (!yaml_parser_initialize(&p)) {
		free(text);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			pb_sayf(why, len, "%s:%zu:%zu: %s", path, p.problem_mark.line + 1,
				 p.problem_mark.column + 1, p.problem ? p.problem : "YAML error");
			err = -EINVAL;
			break;
		}
		int at_top = depth == 1;
		switch (ev.type) {
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (depth == 0 && ev.type == YAML_SEQUENCE_START_EVENT) {
				pb_sayf(why, len, "%s: expected a mapping at the top", path);
				err = -EINVAL;
				done = 1;
			}
			if (at_top && !expect_key)
				expect_key = 1;   /* a nested value: skipped below */
			else if (at_top)
				expect_key = 0;   /* a complex key (legal YAML, never ours) */
			/* stop here: libyaml's cost per token grows with depth */
			if (++depth > MANIFEST_MAX_DEPTH) {
				pb_sayf(why, len, "%s:%zu:%zu: nesting deeper than %d levels", path,
					ev.start_mark.line + 1, ev.start_mark.column + 1, MANIFEST_MAX_DEPTH);
				err = -E2BIG;
				done = 1;
			}
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
			if (!at_top)
				break;
			if (expect_key) {
				snprintf(key, sizeof key, "%s", ev.type == YAML_SCALAR_EVENT ?
					 (const char *)ev.data.scalar.value : "");
				expect_key = 0;
				break;
			}
			expect_key = 1;
			if (ev.type != YAML_SCALAR_EVENT)
				break;
			if (!strcmp(key, "status")) {
				snprintf(h->status, sizeof h->status, "%s", ev.data.scalar.value);
				h->has_status = 1;
			} else if (!strcmp(key, "reason") && !h->reason) {
				h->reason = strdup((const char *)ev.data.scalar.value);
			}
			break;
		case YAML_DOCUMENT_END_EVENT:
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	free(text);
	return err;
}

enum pb_cell_status pb_cell_status_read(const char *cells_dir, const char *id,
					char *reason, size_t len)
{
	struct manifest_head h = { .status = "" };
	char dir[4096], path[4096], why[1024] = "";
	enum pb_cell_status st;

	if (reason && len)
		reason[0] = '\0';
	if (pb_path_join(dir, sizeof dir, cells_dir, id) < 0 ||
	    pb_path_join(path, sizeof path, dir, "manifest.yaml") < 0)
		return PB_CELL_PENDING;
	struct stat sb;
	if (stat(path, &sb) < 0)
		return PB_CELL_PENDING;   /* absent, or only <id>.tmp so far */

	/* A complete folder whose manifest cannot be read is reported as a
	 * failure, with the problem as its reason, rather than run again over
	 * a folder that is never rewritten. */
	if (scan_manifest(path, &h, why, sizeof why) < 0) {
		st = PB_CELL_FAILED;
	} else if (!h.has_status) {
		pb_sayf(why, sizeof why, "%s: no top-level 'status'", path);
		st = PB_CELL_FAILED;
	} else if (!strcmp(h.status, "done")) {
		st = PB_CELL_DONE;
	} else if (!strcmp(h.status, "failed")) {
		st = PB_CELL_FAILED;
		pb_sayf(why, sizeof why, "%s", h.reason ? h.reason : "no reason recorded");
	} else {
		pb_sayf(why, sizeof why, "%s: unknown status '%s' (expected done or failed)",
			 path, h.status);
		st = PB_CELL_FAILED;
	}
	if (reason && len && st == PB_CELL_FAILED)
		pb_sayf(reason, len, "%s", why);
	free(h.reason);
	return st;
}
