/* core/util/json-file.c — jansson's json_load_file() through
 * pb_read_file(): a folder or FIFO where a JSON file was expected is
 * refused with the reason (json_load_file would wait on a FIFO forever,
 * and says only "unable to open" for a folder). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "util.h"

json_t *pb_json_load_file(const char *path, size_t flags, json_error_t *e)
{
	char *buf = NULL;
	size_t n = 0;
	json_error_t local;
	if (!e)
		e = &local;
	int rc = pb_read_file(path, &buf, &n);
	if (rc < 0) {
		/* line 0: no position, the reason is the whole story */
		e->line = 0;
		e->column = 0;
		e->position = 0;
		snprintf(e->source, sizeof e->source, "%s", path);
		snprintf(e->text, sizeof e->text, "cannot read: %s", pb_strerror(rc));
		return NULL;
	}
	json_t *root = json_loadb(buf, n, flags, e);
	free(buf);
	return root;
}
