/* core/run/calib-data.c — what the calibration engine runs on: windows
 * of tokens cut from a dataset's calibration split (or, lacking one, the
 * end of its evaluated records), and how many of what length a pruner
 * asks for through its options.  Definitions in calib.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/registry.h"
#include "run/calib.h"
#include "text/text.h"
#include "util/util.h"

/* One record's tokens: BOS and EOS as the tokenizer adds them to a prompt. */
static int tokenize_record(const struct pb_tokenizer *tok, const char *text, int32_t **out)
{
	int bos = pb_tokenizer_add_bos(tok) && pb_tokenizer_bos(tok) >= 0;
	int eos = pb_tokenizer_add_eos(tok) && pb_tokenizer_eos(tok) >= 0;
	int n = pb_tokenize(tok, text ? text : "", bos, NULL, 0);
	if (n < 0)
		return n;
	int32_t *p = malloc((size_t)(n + 1) * sizeof *p);
	if (!p)
		return -ENOMEM;
	int k = pb_tokenize(tok, text ? text : "", bos, p, n);
	if (k < 0) {
		free(p);
		return k;
	}
	if (eos)
		p[k++] = pb_tokenizer_eos(tok);
	*out = p;
	return k;
}

int pb_calib_windows(const struct pb_tokenizer *tok, const struct pb_sample *recs, int n_recs,
		     int from_end, int n_seq, int seqlen, int32_t **out, char *err, size_t len)
{
	*out = NULL;
	if (!tok || n_seq < 1 || seqlen < 1 || n_recs < 0 || (n_recs && !recs) ||
	    (int64_t)n_seq * seqlen > (int64_t)1 << 30)
		return pb_errf(err, len, -EINVAL, "calibration: bad request (%d windows of %d tokens)",
			       n_seq, seqlen);
	const int64_t need = (int64_t)n_seq * seqlen;
	int32_t **toks = calloc((size_t)(n_recs ? n_recs : 1), sizeof *toks);
	int *counts = calloc((size_t)(n_recs ? n_recs : 1), sizeof *counts);
	int32_t *w = malloc((size_t)need * sizeof *w);
	int64_t have = 0;
	int first = from_end ? n_recs : 0, last = 0, rc = 0;
	if (!toks || !counts || !w) {
		rc = -ENOMEM;
		goto out;
	}
	/* tokenize only as many records as the windows need */
	for (int k = 0; k < n_recs && have < need; k++) {
		int i = from_end ? n_recs - 1 - k : k;
		if ((rc = tokenize_record(tok, recs[i].input, &toks[i])) < 0) {
			pb_errf(err, len, rc, "calibration: cannot tokenize the record at line %d",
				recs[i].line);
			goto out;
		}
		counts[i] = rc;
		have += rc;
		rc = 0;
		if (from_end)
			first = i;
		else
			last = i + 1;
	}
	if (have < need) {
		rc = pb_errf(err, len, -ENOSPC,
			     "calibration needs %d × %d = %lld tokens but its %d record%s hold%s only %lld; "
			     "lower nsamples or seqlen, or give it more text",
			     n_seq, seqlen, (long long)need, n_recs, n_recs == 1 ? "" : "s",
			     n_recs == 1 ? "s" : "", (long long)have);
		goto out;
	}
	if (from_end)
		last = n_recs;
	/* concatenate [first, last); keep the first `need` tokens, or the last
	 * ones when the windows come from the end of the records */
	int64_t skip = from_end ? have - need : 0, pos = 0;
	for (int i = first; i < last && pos < need; i++) {
		int64_t a = 0, c = counts[i];
		if (skip >= c) {
			skip -= c;
			continue;
		}
		a = skip;
		skip = 0;
		int64_t take = c - a < need - pos ? c - a : need - pos;
		memcpy(w + pos, toks[i] + a, (size_t)take * sizeof *w);
		pos += take;
	}
	*out = w;
	w = NULL;
out:
	for (int i = 0; toks && i < n_recs; i++)
		free(toks[i]);
	free(toks);
	free(counts);
	free(w);
	return rc;
}

int pb_calib_dataset_tokens(const struct pb_dataset *ds, const struct pb_tokenizer *tok,
			    const char *what, int n_seq, int seqlen, int32_t **out,
			    char *err, size_t len)
{
	char why[768];
	int rc;
	if (ds->n_calib > 0) {
		rc = pb_calib_windows(tok, ds->calib, ds->n_calib, 0, n_seq, seqlen, out, why, sizeof why);
		if (rc < 0)
			return pb_errf(err, len, rc, "dataset '%s': %s (calibration split of %d records)",
				       what, why, ds->n_calib);
		return 0;
	}
	pb_log(PB_LOG_WARN, "dataset '%s' has no calibration split (calibration: {count, seqlen}); "
	       "calibrating on the END of its evaluated records, which the scores also see", what);
	rc = pb_calib_windows(tok, ds->samples, ds->n, 1, n_seq, seqlen, out, why, sizeof why);
	if (rc < 0)
		return pb_errf(err, len, rc, "dataset '%s': %s", what, why);
	return 0;
}

/* An integer option of p's config, or 0 when p has none by that name. */
static int64_t int_option(const struct pb_plugin *p, const void *config, const char *key)
{
	const struct pb_option *o = p && p->options && config ? pb_option_find(p->options, key) : NULL;
	int64_t v = 0;
	if (o && o->type == PB_OPT_INT && o->offset + sizeof v <= p->config_size)
		memcpy(&v, (const char *)config + o->offset, sizeof v);
	return v;
}

void pb_calib_sizes(const struct pb_plugin *p, const void *config, int def_n, int def_len,
		    int *n_seq, int *seqlen)
{
	int64_t n = int_option(p, config, "nsamples"), l = int_option(p, config, "seqlen");
	*n_seq = n > 0 && n <= 1 << 20 ? (int)n : def_n > 0 ? def_n : 32;
	*seqlen = l > 0 && l <= 1 << 20 ? (int)l : def_len > 0 ? def_len : 128;
}
