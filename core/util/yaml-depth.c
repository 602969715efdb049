/* core/util/yaml-depth.c — refuse YAML nested too deep before libyaml
 * builds it.
 *
 * libyaml's scanner walks its stack of possible simple keys on every token,
 * and that stack grows by one per open flow collection, so a document
 * nested N levels deep costs O(N²) to load: `x: [[[[…]]]]` at N = 100,000
 * (a 200 KB file) took 34 s in yaml_parser_load() before any depth check
 * of ours could run.  Every reader of untrusted YAML (experiment files,
 * --set values, cell manifests, plugin YAML blocks) calls this first: it
 * walks the events and stops at the first collection deeper than the
 * limit, having read at most that many levels (plus libyaml's bounded
 * 1024-character lookahead). */
#include <errno.h>

#include <yaml.h>

#include "util.h"

int pb_yaml_depth_check(const void *text, size_t len, int max_depth, size_t *line, size_t *col)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, rc = 0;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, text, len);
	for (;;) {
		/* A syntax error ends the walk; the loader reports it with its
		 * context, at the cost of the depth already known to be fine. */
		if (!yaml_parser_parse(&p, &ev))
			break;
		yaml_event_type_t t = ev.type;
		if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
			if (++depth > max_depth) {
				*line = ev.start_mark.line + 1;
				*col = ev.start_mark.column + 1;
				rc = -E2BIG;
			}
		} else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
			depth--;
		}
		yaml_event_delete(&ev);
		if (rc < 0 || t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	return rc;
}
