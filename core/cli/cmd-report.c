/* core/cli/cmd-report.c — `prunebench report RESULTS_DIR`: the tables and
 * charts of a results folder as report/index.html and report/tables.md
 * (core/report). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "report/report.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: prunebench report RESULTS_DIR [options]\n\n"
		   "Writes DIR/report/index.html (self-contained: open it from disk) and\n"
		   "DIR/report/tables.md from the cells under RESULTS_DIR/cells.\n\n"
		   "  -o, --output DIR   write DIR/report/ (default: RESULTS_DIR)\n"
		   "  --baseline NAME    chain (pruner axis name) to compare against\n"
		   "                     (default: the chain without compression steps)\n"
		   "  --cell ID          cell whose probe readings are plotted over time\n"
		   "  --min-effect PCT   smallest effect of interest, %%: a change is called real\n"
		   "                     only when the test rejects |effect| <= PCT (default:\n"
		   "                     the experiment's `min_effect`, else 0)\n");
}

int pb_report_run(const struct pb_report_opts *o)
{
	char err[2048], path[4096];
	int rc = pb_report_write(o, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "prunebench: report: %s\n", err[0] ? err : strerror(-rc));
		return 1;
	}
	snprintf(path, sizeof path, "%s/report/index.html", o->out_dir ? o->out_dir : o->results_dir);
	if (pb_log_level_get() >= PB_LOG_INFO)
		printf("report: %s (tables: %.*s/tables.md)\n", path,
		       (int)(strlen(path) - strlen("/index.html")), path);
	return 0;
}

int pb_cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, 0, 'o' },
		{ "baseline", required_argument, 0, 'b' },
		{ "cell", required_argument, 0, 'c' },
		{ "min-effect", required_argument, 0, 'm' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct pb_report_opts o = { 0 };
	char *end;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o': o.out_dir = optarg; break;
		case 'b': o.baseline = optarg; break;
		case 'c': o.cell = optarg; break;
		case 'm':
			o.min_effect_given = 1;
			o.min_effect_pct = strtod(optarg, &end);
			if (end == optarg || *end || !(o.min_effect_pct >= 0 && o.min_effect_pct < 1000)) {
				fprintf(stderr, "prunebench: report: --min-effect: expected a percentage "
					"0 to 1000, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	o.results_dir = argv[optind];
	return pb_report_run(&o);
}
