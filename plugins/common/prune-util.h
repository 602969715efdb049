/* plugins/common/prune-util.h — what the unstructured pruners share:
 * which tensors a `tensors:` option selects and check() over them
 * (magnitude, random, nm, wanda, sparsegpt), rows of F32/F16/BF16 weights
 * as floats, "prune the k lowest scores of a row" and "keep the n highest
 * of every m", the sequential calibration walk (ask block l's statistics,
 * prune block l, go on to l + 1), and the option-table entries they
 * declare alike (nm, wanda, sparsegpt).
 *
 * Plugins cannot link the core, so prune-util.c is compiled into each
 * plugin that uses it (their meson.build lists prune_util_src); nothing
 * here is exported.
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
/* magnitude's and random's selection: the roles `tensors` names whatever
 * their layer, and the output head when include_output.  Wider than
 * pu_selected on purpose (those two can prune the head); kept apart so
 * that neither selection changes. */
int pu_selected_roles(int tensors, int include_output, const struct pb_tensor *t);
const char *pu_tensors_name(int tensors);

/* 0 when t is F32/F16/BF16 and its data holds the elements its shape
 * claims; otherwise -ENOTSUP/-EINVAL, logged through h naming the tensor. */
int pu_tensor_ok(const struct pb_host *h, const struct pb_tensor *t);

/* The model's selected tensors must all be readable: 0, or -errno with why
 * (for check()).  -ENOENT when nothing is selected. */
int pu_check_model(const struct pb_model *m, int tensors, char *why, size_t len);
/* The same over pu_selected_roles (magnitude, random). */
int pu_check_roles(const struct pb_model *m, int tensors, int include_output, char *why,
		   size_t len);

/* ---- magnitude and random: a set of whole tensors ------------------------------ */

/* init()'s checks of the options they share: sparsity in [0, 1], scope in
 * [0, n_scopes), tensors a PU_TENSORS_*.  0, or -EINVAL logged through h. */
int pu_roles_config_ok(const struct pb_host *h, double sparsity, int scope, int n_scopes,
		       int tensors);

/* The tensors they prune, in model order, and their weights. */
struct pu_set {
	struct pb_tensor **t;
	int n;
	uint64_t total;
};

/* Set every targets[] to "not touched", then gather the tensors
 * pu_selected_roles takes, each checked by pu_tensor_ok.  0 (an empty set
 * is logged as a warning: nothing to prune) or -errno; pu_set_free after
 * either. */
int pu_set_gather(const struct pb_host *h, struct pb_model *m, int tensors, int include_output,
		  struct pb_prune_target *targets, struct pu_set *set);
/* targets[] of the set's tensors = sparsity */
void pu_set_mark(const struct pu_set *set, const struct pb_model *m,
		 struct pb_prune_target *targets, double sparsity);
void pu_set_free(struct pu_set *set);

/* ---- rows ------------------------------------------------------------------------ */

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

/* ---- option-table entries ---------------------------------------------------- */

/* nm, wanda, sparsegpt: `tensors:` into the int field `f` of config type T */
#define PU_OPT_TENSORS(T, f)								\
	{ .key = "tensors", .type = PB_OPT_ENUM, .offset = offsetof(T, f),		\
	  .def = "all", .min = 1, .max = 0, .choices = PU_TENSORS_CHOICES,		\
	  .help = PU_TENSORS_HELP }

/* nm, wanda, sparsegpt: the calibration size (int64_t fields nsamples and
 * seqlen of T), which the core reads to size the calibration; `note` ends
 * nsamples' help with what is the plugin's own. */
#define PU_OPT_CALIB(T, note)								\
	{ .key = "nsamples", .type = PB_OPT_INT, .offset = offsetof(T, nsamples),	\
	  .def = "32", .min = 1, .max = 65536,						\
	  .help = "calibration sequences (read by the core to size the calibration)" note }, \
	{ .key = "seqlen", .type = PB_OPT_INT, .offset = offsetof(T, seqlen),		\
	  .def = "128", .min = 1, .max = 1 << 20,					\
	  .help = "tokens per calibration sequence (read by the core)" }

/* wanda, sparsegpt: optional N:M (int64_t fields n and m of T; 0:0 =
 * unstructured).  nm's own n and m differ (required, 2:4 by default). */
#define PU_OPT_NM_OR_UNSTRUCTURED(T)							\
	{ .key = "n", .type = PB_OPT_INT, .offset = offsetof(T, n),			\
	  .def = "0", .min = 0, .max = 255,						\
	  .help = "N:M: weights KEPT per group of m input columns; 0 = unstructured" },	\
	{ .key = "m", .type = PB_OPT_INT, .offset = offsetof(T, m),			\
	  .def = "0", .min = 0, .max = 256,						\
	  .help = "N:M group size along the input dimension; 0 = unstructured" }

/* magnitude, random: `tensors:` and `include_output:` (int fields tensors
 * and include_output of T), pu_selected_roles' two inputs.  Their help
 * predates PU_TENSORS_HELP and is kept word for word. */
#define PU_OPT_ROLES(T)									\
	{ .key = "tensors", .type = PB_OPT_ENUM, .offset = offsetof(T, tensors),	\
	  .def = "all", .min = 1, .max = 0, .choices = "attention|ffn|all",		\
	  .help = "which linears to prune: attention (q,k,v,o), ffn (gate,up,down) or both" }, \
	{ .key = "include_output", .type = PB_OPT_BOOL, .offset = offsetof(T, include_output), \
	  .def = "false", .min = 1, .max = 0,						\
	  .help = "also prune the output head (embeddings never are)" }

#endif
