/* core/cli/cli.h — subcommands of the `prunebench` CLI, one file each.
 * Each takes argv after the subcommand name (argv[0] is the subcommand)
 * and returns the process exit status: 0 ok, 1 failure (a failed cell,
 * bad input), 2 usage error. */
#ifndef PB_CLI_H
#define PB_CLI_H

struct pb_registry;

/* Registry opened once by main (PRUNEBENCH_PLUGIN_PATH honoured). */
struct pb_registry *pb_cli_registry(void);

int pb_cmd_validate(int argc, char **argv);
int pb_cmd_run(int argc, char **argv);
int pb_cmd_cells(int argc, char **argv);
int pb_cmd_merge(int argc, char **argv);
int pb_cmd_plugins(int argc, char **argv);
int pb_cmd_synth(int argc, char **argv);
int pb_cmd_generate(int argc, char **argv);
int pb_cmd_tokenize(int argc, char **argv);
int pb_cmd_convert(int argc, char **argv);
int pb_cmd_prune(int argc, char **argv);
int pb_cmd_probe(int argc, char **argv);
int pb_cmd_report(int argc, char **argv);
int pb_cmd_serve(int argc, char **argv);
/* The report of one results folder, as `report` and `run --report` make
 * it; prints where it went.  Exit status. */
struct pb_report_opts;
int pb_report_run(const struct pb_report_opts *o);
int pb_cmd_slurm(int argc, char **argv);
/* s as an integer (decimal, 0x hex or 0 octal) in [lo, hi]: 0, or -EINVAL. */
int pb_cli_parse_int(const char *s, long long lo, long long hi, long long *v);
/* A backend's config for `serve` and `generate`: its defaults, then each
 * of opts[0..n) as KEY=VALUE through its option table; errors go to
 * stderr prefixed with "prunebench CMD".  0, or the exit status. */
struct pb_plugin;
int pb_cli_backend_config(const char *cmd, const struct pb_plugin *p, const char *const *opts, int n,
			  void *config);
int pb_cmd_status(int argc, char **argv);

#endif
