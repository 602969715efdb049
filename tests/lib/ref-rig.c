/* tests/lib/ref-rig.c — see ref-rig.h. */
#include <stdarg.h>
#include <stdio.h>

#include <check.h>

#include "model/modelio.h"
#include "ref-rig.h"

char last_log[1024];

static void host_log(const struct pb_host *h, enum pb_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	(void)h;
	(void)lvl;
	va_start(ap, fmt);
	vsnprintf(last_log, sizeof last_log, fmt, ap);
	va_end(ap);
}

const struct pb_host host = {
	.abi_version = PB_ABI_VERSION, .struct_size = sizeof(struct pb_host), .log = host_log,
};

void rig_open(struct rig *r, struct pb_model *m)
{
	char err[512];
	int check_nan = 1;   /* the ref config: one int */
	r->m = m;
	r->ops = pb_plugin.ops;
	ck_assert_int_eq(pb_plugin.init(&host, &check_nan, &r->state), 0);
	ck_assert_msg(r->ops->weights_load(r->state, m) == 0, "%s", last_log);
	ck_assert_msg(pb_session_open(m, r->ops, r->state, &r->s, err, sizeof err) == 0, "%s", err);
}

void rig_close(struct rig *r)
{
	pb_session_close(r->s);
	pb_plugin.fini(r->state);
	pb_model_free(r->m);
}
