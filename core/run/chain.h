/* core/run/chain.h — can each pruner chain of an experiment run on each
 * model it meets?  Checked by `validate` and by `run` before any cell,
 * without compressing anything: the steps' declared architectures
 * (pb_pruner_ops.archs) and weight formats (in_formats, out_format) are
 * followed from the model's own (synthetic presets from their
 * hyper-parameters, never built; files mapped, not read).  The first step
 * also gets its check() hook on a model file as loaded. */
#ifndef PB_RUN_CHAIN_H
#define PB_RUN_CHAIN_H

#include <stdio.h>

#include "experiment/experiment.h"

/* One line per problem on `out`, "file: chain 'x' step 2 'wanda': cannot
 * read Q8_0 weights (it reads F32, F16, BF16); put quantization last".
 * Returns the number of problems (0: every chain can run). */
int pb_chains_check(const struct pb_experiment *e, FILE *out);

#endif
