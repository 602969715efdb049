/* tests/experiment/fake.h — what the experiment tests share: an in-memory
 * plugin registry (no loader, no .so files) and small helpers. */
#ifndef PB_TEST_EXPERIMENT_FAKE_H
#define PB_TEST_EXPERIMENT_FAKE_H

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <stdint.h>

#include "experiment/experiment.h"
#include "util/util.h"

struct mag_cfg {
	double sparsity;
	int tensors;            /* all|linear|attention|ffn */
	int per_row;
	int64_t seed;
	char tag[PB_OPT_STR_MAX];
};
struct ref_cfg {
	int64_t threads;
};
struct procstat_cfg {
	double interval_ms;
};

extern const struct pb_registry fake_registry;
extern const struct pb_option mag_options[];

/* The fixtures folder (absolute). */
const char *fixtures(void);
/* Write text as <tmpdir>/exp.yaml (tmpdir holds prompts.txt and
 * data.jsonl) and load it; returns the load's result. */
int load_text(const char *yaml, const char *const *sets, int n_sets,
	      struct pb_experiment **out, char *err, size_t len);
const char *tmp_dir(void);
void tmp_setup(void);
void tmp_cleanup(void);

TCase *tcase_options(void);
TCase *tcase_bad_fixtures(void);

#endif
