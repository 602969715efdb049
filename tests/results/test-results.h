/* tests/results/test-results.h — helpers shared by the results suite's
 * files: a fresh temporary folder per test and small file utilities. */
#ifndef PB_TEST_RESULTS_H
#define PB_TEST_RESULTS_H

#include <check.h>
#include <stddef.h>

extern char tmpdir[4096];
void tmpdir_setup(void);
void tmpdir_teardown(void);
/* tmpdir/rel into out. */
const char *tpath(char *out, size_t len, const char *rel);
/* Writes text to tmpdir/rel, creating its folders. */
void put_file(const char *rel, const char *text);
/* tmpdir/rel's bytes (malloc'd, NUL-terminated); NULL when absent. */
char *get_file(const char *rel);

TCase *yaml_tcase(void);

#endif
