/* core/run/cell-internal.h — what the cell pipeline (cell.c) shares with
 * its remote-backend half (cell-remote.c): the child's context, phase
 * marking and the measurement conditions taken before the measured
 * requests.  Private to core/run. */
#ifndef PB_CELL_INTERNAL_H
#define PB_CELL_INTERNAL_H

#include "plugin/host.h"
#include "run/cell-record.h"
#include "run/run.h"
#include "run/sampler.h"

struct pb_cell_ctx {
	const struct pb_experiment *e;
	const struct pb_cell *c;
	const char *dir;
	int status_fd;
	struct pb_sampler *sampler;
	enum pb_phase phase;
};

/* Mark a phase: the sampler's boundary reading and the parent's progress. */
void pb_cell_set_phase(struct pb_cell_ctx *x, enum pb_phase p);

/* Throttle reference (warm-up window [tw0, tw1]), cooldown, --wait-quiet
 * and the idle baseline, in that order. */
void pb_cell_measure_conditions(struct pb_cell_ctx *x, struct pb_cell_record *rec, void **states,
				double tw0, double tw1);

/* The rest of a cell whose backend is remote (pb_backend_is_remote), once
 * the probes run: dataset, warm-up, every request through complete(),
 * record.  No model is loaded, nothing compressed, nothing teacher-forced.
 * 0 when the cell completed. */
int pb_cell_remote_run(struct pb_cell_ctx *x, struct pb_cell_record *rec, void **probe_states,
		       const struct pb_cell_job *job);

/* The requests of a remote or served cell through client backend bp with
 * config (a served cell's `openai` aimed at its own server). */
int pb_cell_remote_requests(struct pb_cell_ctx *x, struct pb_cell_record *rec,
			    void **probe_states, const struct pb_plugin *bp, const void *config);

/* A served cell (backend `serve: true`, cell-served.c), after cell.c
 * loaded and compressed *m: the model as a GGUF in the cell folder (or
 * the rounds' kept one), *m and *kept freed, the server in a child (in
 * its own network namespace when the link is shaped), the probes started
 * on the server's process (x->sampler set), requests through `openai`,
 * the server stopped on every path.  0 when the cell completed. */
int pb_cell_served_run(struct pb_cell_ctx *x, struct pb_cell_record *rec, struct pb_model **m,
		       struct pb_model **kept, const struct pb_cell_job *job,
		       struct pb_host_ctx *probe_hosts, struct pb_probe_inst *probe_inst,
		       void **probe_states);
/* One request through a remote backend's complete(), its result filled
 * with the "unknown" values first and checked after (cell-remote.c); it
 * stays valid until the next call on bstate. */
int pb_cell_remote_one(const struct pb_backend_ops *ops, void *bstate,
		       const struct pb_complete_req *req, struct pb_complete_res *res);

/* A remote cell's measured requests under its backend entry's `load`
 * (cell-load.c): clients (bstate is client 0's; the others get their own
 * state from bp->init with config), the open loop's schedule, every request recorded
 * into rec with its schedule columns; the first failure's reason into
 * first_error.  0, or -errno when the run itself could not go on. */
struct pb_dataset;
int pb_cell_load_run(struct pb_cell_ctx *x, struct pb_cell_record *rec, const struct pb_plugin *bp,
		     const void *config, const struct pb_host *host, void *bstate,
		     const struct pb_dataset *ds, char *first_error, size_t len);
/* The load's summary.csv columns: offered and achieved throughput, the
 * client's queueing delay, goodput under the experiment's `slo`. */
struct pb_row;
void pb_cell_load_summary(const struct pb_cell_record *r, struct pb_row *row);

#endif
