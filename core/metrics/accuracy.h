/* core/metrics/accuracy.h — accuracy metrics (definitions in DESIGN.md,
 * "Metrics"): text overlap against references, and distribution metrics
 * against the dense model.
 *
 * Text metrics compare words: the text is lower-cased (ASCII) and split at
 * every byte that is whitespace or ASCII punctuation; bytes >= 0x80 belong
 * to words, so UTF-8 letters stay whole.  Articles are kept (unlike SQuAD's
 * normaliser).  Two empty texts agree fully (1); one empty text scores 0.
 *
 * Distribution metrics work on one row of logits (one position) at a time.
 * The dense side is kept as its top-K log-probabilities plus the log of the
 * mass outside them (the "tail"); KL(dense || cell) is then computed over
 * K + 1 outcomes, the tail being one bucket:
 *
 *     KL ≈ Σ_{i ∈ topK} p_i (log p_i − log q_i) + p_tail (log p_tail − log q_tail)
 *
 * Merging outcomes into one bucket can only lower a KL divergence (the log-
 * sum inequality), so this is a lower bound of the full KL, exact when the
 * tail is empty (K = vocab). */
#ifndef PB_ACCURACY_H
#define PB_ACCURACY_H

#include <stdint.h>

/* ---- text against a reference */
double pb_exact_match(const char *pred, const char *ref);   /* 0 or 1 */
double pb_token_f1(const char *pred, const char *ref);      /* bag-of-words F1 */
double pb_rouge_l(const char *pred, const char *ref);       /* F1 of the word LCS */

/* ---- one row of logits */
double pb_logsumexp(const float *x, int n);
int pb_argmax(const float *x, int n);           /* lowest index on ties */

/* The K most probable ids of a row, by log-probability descending (ties:
 * lower id first, so ids[0] is pb_argmax), their log-probabilities, and
 * the log of the remaining mass (-INFINITY when k == n).  mark: n bytes of
 * zeroed scratch, left zeroed.  0 or -EINVAL. */
int pb_topk(const float *logits, int n, int k, int32_t *ids, float *logp, float *tail_logp,
	    unsigned char *mark);

/* KL(p || q) over p's top-K plus the tail bucket; q given as a row of
 * logits (n values) with its log-sum-exp.  mark: as for pb_topk. */
double pb_kl_topk(const int32_t *ids, const float *p_logp, int k, float p_tail_logp,
		  const float *q_logits, int n, double q_lse, unsigned char *mark);

/* Running sums over scored positions. */
struct pb_acc_sums {
	double nll;          /* −log q(target), summed */
	long n_nll;
	double kl;
	long agree, n_cmp;   /* argmax agreements over compared rows */
};
double pb_perplexity(const struct pb_acc_sums *s);       /* exp(nll / n); NAN when none */
double pb_agreement(const struct pb_acc_sums *s);
double pb_kl_mean(const struct pb_acc_sums *s);

#endif
