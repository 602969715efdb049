/* plugins/pruners/nm/prune-util.h — what the nm, wanda and sparsegpt
 * pruners share: which linears a `tensors:` option selects, rows of
 * F32/F16/BF16 weights as floats, "prune the k lowest scores of a row" and
 * "keep the n highest of every m", and the sequential calibration walk
 * (ask block l's statistics, prune block l, go on to l + 1).
 *
 * Plugins cannot link the core, so this file is compiled into each of the
 * three plugins (their meson.build lists it); nothing here is exported.
 */
#ifndef PB_PRUNE_UTIL_H
#define PB_PRUNE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <prunebench/plugin.h>

/* `tensors:` choices, in the order of PU_TENSORS_CHOICES */
enum pu_tensors { PU_TENSORS_ATTENTION = 0, PU_TENSORS_FFN, PU_TENSORS_ALL };
#define PU_TENSORS_CHOICES "attention|ffn|all"
#define PU_TENSORS_HELP \
	"which linears to prune: attention (q,k,v,o and cross-attention), ffn (gate,up,down) or all"

#define PU_DENSE_FORMATS (PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16))

/* Linears of the blocks that `tensors` selects (never embeddings, norms or
 * the output head). */
int pu_selected(int tensors, const struct pb_tensor *t);
const char *pu_tensors_name(int tensors);

/* 0 when t is F32/F16/BF16 and its data holds the elements its shape
 * claims; otherwise -ENOTSUP/-EINVAL, logged through h naming the tensor. */
int pu_tensor_ok(const struct pb_host *h, const struct pb_tensor *t);

/* The model's selected tensors must all be readable: 0, or -errno with why
 * (for check()).  -ENOENT when nothing is selected. */
int pu_check_model(const struct pb_model *m, int tensors, char *why, size_t len);

/* Rows: ne[0] elements each; rows = nelements / ne[0]. */
int64_t pu_rows(const struct pb_tensor *t);
void pu_row_get(const struct pb_tensor *t, int64_t r, float *out);
/* Write a row back, rounding to the tensor's format (nearest even). */
void pu_row_put(struct pb_tensor *t, int64_t r, const float *in);
/* Zero the elements of row r whose mask byte is non-zero. */
void pu_row_zero(struct pb_tensor *t, int64_t r, const uint8_t *mask);

/* mask[j] = 1 for the k lowest score[j] of n, ties broken by position
 * (lower index first, as a stable sort does), 0 for the others.  work holds
 * n entries of struct pu_pair.  NaN scores rank highest. */
struct pu_pair { float s; int32_t i; };
void pu_mask_lowest(const float *score, int64_t n, int64_t k, uint8_t *mask,
		    struct pu_pair *work);
/* N:M: in every group of m consecutive entries keep the n highest scores
 * (mask the m − n lowest, ties to the lower index); a trailing partial
 * group of g < m entries keeps min(n, g), as if padded with zeros. */
void pu_mask_nm(const float *score, int64_t len, int n, int m, uint8_t *mask);

/* Zero in every row of t the weights of lowest score |W_ij|·sqrt(col_sq[j])
 * (Wanda's metric; |W_ij| when col_sq is NULL), compared within the row:
 * n:m when n > 0, else the round(sparsity·ne[0]) lowest.  0 or -ENOMEM. */
int pu_prune_rows(struct pb_tensor *t, const double *col_sq, int n, int m, double sparsity);

/* round(s·n), clamped to [0, n]. */
int64_t pu_count(double sparsity, int64_t n);

/* The sequential scheme of Wanda and SparseGPT: for each stack (encoder
 * first), for each block l in order, ask the handle for `want` statistics
 * of block l and call fn for every selected linear in them.  fn may edit
 * the tensor: the next block's statistics then see it pruned.  Selected
 * tensors that no block reported are an error (-ENOENT, logged).
 * targets[i] for the tensors fn was called on are left to fn. */
typedef int (*pu_linear_fn)(void *ctx, struct pb_model *m, struct pb_tensor *t,
			    const struct pb_linear_stats *st);
int pu_calib_walk(const struct pb_host *h, struct pb_model *m, struct pb_calib *calib,
		  unsigned want, int tensors, pu_linear_fn fn, void *ctx);

/* Options every pruner here shares. */
#define PU_OPT_NSAMPLES_HELP \
	"calibration sequences (read by the core to size the calibration)"
#define PU_OPT_SEQLEN_HELP "tokens per calibration sequence (read by the core)"

#endif
