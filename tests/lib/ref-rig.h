/* tests/lib/ref-rig.h — the `ref` backend linked into a test (ref.c is
 * compiled in), a fake host whose log keeps the last line, and a rig that
 * opens a session on a model: what every engine test needs to run a model
 * the way a cell does. */
#ifndef PB_TEST_REF_RIG_H
#define PB_TEST_REF_RIG_H

#include <prunebench/plugin.h>

#include "arch/arch.h"

extern const struct pb_plugin pb_plugin;   /* the ref backend, linked in */
extern char last_log[1024];                /* the host's last log line */
extern const struct pb_host host;          /* a fake host: logs into last_log */

struct rig {
	struct pb_model *m;
	const struct pb_backend_ops *ops;
	void *state;
	struct pb_session *s;
};

/* Takes ownership of m; ck_asserts on every failure. */
void rig_open(struct rig *r, struct pb_model *m);
/* Closes the session and the backend and frees the model. */
void rig_close(struct rig *r);

#endif
