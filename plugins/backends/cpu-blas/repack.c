/* plugins/backends/cpu-blas/repack.c — Q8_0 / Q4_0 linears reordered at
 * weights_load into groups of CB_RGROUP = 16 interleaved rows, for the
 * kernels of kernels-repack.c (decode and the int8 prefill GEMM).
 *
 * A group of 16 rows × n columns (nb = n/32 blocks) is
 *     nb × 16 F16 scales     block b's at 32·b: row r's d at 2·r
 *     nb × 16·QB quant bytes block b's at nb·32 + 16·QB·b, QB = 16 (Q4_0)
 *                            or 32 (Q8_0) bytes per row and block, in
 *                            vectors of 64 bytes: vector k holds bytes
 *                            4k … 4k+3 of each row's block, row r at 4·r.
 * So one 64-byte load is four quant bytes of 16 rows: the int32 lane r of
 * a vpdpbusd is row r's.  Q4_0 bytes keep their nibbles (element j low,
 * j + 16 high); Q8_0 quants are stored biased, q + 128 (= q ^ 0x80), the
 * unsigned operand vpdpbusd wants.  Scales stay F16 (one vcvtph2ps per
 * block converts all 16), so a group has exactly the bytes of its 16
 * rows: the repacked tensor is the size of the original.  Rows past the
 * last whole group follow as stored and run the row kernels.
 *
 * Memory: the repacked copy is the backend's own allocation.  When every
 * read of the tensor goes to it (decode, int8 prefill, and the embedding
 * lookup of a tied output, cb_row_bytes_of), the model's copy is handed
 * back to the kernel with madvise(MADV_PAGEOUT): its clean pages of a
 * GGUF mapping leave the resident set (and are read back from the file
 * should anything touch them again), so RSS holds one copy.  A model the
 * core quantized in memory (anonymous pages) cannot be dropped that way
 * without swap, so `repack: auto` (the default) repacks only tensors read
 * from a file mapping; `repack: true` repacks those too and keeps both
 * copies resident, which the log says. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu-blas.h"

static int quant_bytes(enum pb_dtype dt)
{
	return dt == PB_Q8_0 ? 32 : 16;
}

void cb_repack_group(enum pb_dtype dt, const uint8_t *src, size_t row_bytes, int64_t n,
		     uint8_t *dst)
{
	const int64_t nb = n / 32;
	const int qb = quant_bytes(dt), bs = 2 + qb;
	const uint8_t flip = dt == PB_Q8_0 ? 0x80 : 0;
	for (int64_t b = 0; b < nb; b++) {
		uint8_t *q = dst + nb * 32 + (int64_t)CB_RGROUP * qb * b;
		for (int r = 0; r < CB_RGROUP; r++) {
			const uint8_t *blk = src + (size_t)r * row_bytes + (size_t)(b * bs);
			memcpy(dst + 32 * b + 2 * r, blk, 2);
			for (int k = 0; k < qb / 4; k++)
				for (int i = 0; i < 4; i++)
					q[64 * k + 4 * r + i] = blk[2 + 4 * k + i] ^ flip;
		}
	}
}

void cb_repack_row(enum pb_dtype dt, const uint8_t *g, int r, int64_t n, uint8_t *row)
{
	const int64_t nb = n / 32;
	const int qb = quant_bytes(dt), bs = 2 + qb;
	const uint8_t flip = dt == PB_Q8_0 ? 0x80 : 0;
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *q = g + nb * 32 + (int64_t)CB_RGROUP * qb * b;
		uint8_t *blk = row + b * bs;
		memcpy(blk, g + 32 * b + 2 * r, 2);
		for (int k = 0; k < qb / 4; k++)
			for (int i = 0; i < 4; i++)
				blk[2 + 4 * k + i] = q[64 * k + 4 * r + i] ^ flip;
	}
}

/* Does the backend read tensor idx only through its repacked copy?  Then
 * the model's pages can go.  The dequantise + sgemm prefill (int8_gemm
 * off) reads the model's rows. */
static int only_repacked(const struct cb_state *s)
{
	return s->cfg.int8_gemm;
}

/* Hand the whole pages inside [p, p + len) back to the kernel: content is
 * kept (MADV_PAGEOUT never discards data, unlike MADV_DONTNEED). */
static int page_out(const void *p, size_t len)
{
#ifdef MADV_PAGEOUT
	const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	const uintptr_t a = ((uintptr_t)p + pg - 1) / pg * pg, e = ((uintptr_t)p + len) / pg * pg;
	return e > a && madvise((void *)a, e - a, MADV_PAGEOUT) == 0;
#else
	(void)p;
	(void)len;
	return 0;
#endif
}

/* Is every whole page inside [p, p + len) — those page_out hands back —
 * a file mapping (/proc/self/maps: a non-zero inode)?  Only such pages
 * leave the resident set on MADV_PAGEOUT without swap; anonymous ones (a
 * model quantized in memory, a synthetic one) stay, and repacking them
 * would hold two copies.  The partial pages at either end may be
 * anonymous (the core copies a tensor's neighbours out of the file). */
static int file_backed(const void *p, size_t len)
{
	const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	const uintptr_t a = ((uintptr_t)p + pg - 1) / pg * pg, e = ((uintptr_t)p + len) / pg * pg;
	uintptr_t covered = a;
	char line[512];
	if (e <= a)
		return 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return 0;
	while (covered < e && fgets(line, sizeof line, f)) {
		unsigned long lo, hi, ino;
		char perm[8], dev[16];
		unsigned long long off;
		if (sscanf(line, "%lx-%lx %7s %llx %15s %lu", &lo, &hi, perm, &off, dev, &ino) != 6)
			continue;
		if (lo <= covered && covered < hi) {
			if (ino == 0)
				break;
			covered = hi;
		}
	}
	fclose(f);
	return covered >= e;
}

/* How many bytes repacking tensor idx takes, 0 when it is not repacked:
 * Q8_0 / Q4_0, whole blocks, at least one group, and, under `repack:
 * auto`, pages that can be handed back. */
size_t cb_repack_bytes(struct cb_state *s, int idx)
{
	const struct pb_tensor *t = &s->m->tensors[idx];
	const int64_t n = t->ne[0], rows = t->ne[1];
	if (!s->cfg.repack || !s->cfg.int8_act || (t->dtype != PB_Q8_0 && t->dtype != PB_Q4_0) ||
	    !s->k.rdot[t->dtype] || n % 32 || rows < CB_RGROUP || t->ne[2] != 1 || t->ne[3] != 1 ||
	    n > s->xq.cap)
		return 0;
	const size_t bytes = (size_t)rows * pb_row_bytes(t);
	if (s->cfg.repack == CB_REPACK_AUTO && !(only_repacked(s) && file_backed(t->data, bytes)))
		return 0;
	return bytes;
}

/* Repack tensor idx into dst (cb_repack_bytes of it, 64-byte aligned). */
void cb_repack_into(struct cb_state *s, int idx, uint8_t *dst)
{
	const struct pb_tensor *t = &s->m->tensors[idx];
	const int64_t n = t->ne[0], rows = t->ne[1];
	const size_t rb = pb_row_bytes(t), bytes = (size_t)rows * rb;
	const int64_t ng = rows / CB_RGROUP;
	const uint8_t *src = t->data;
	for (int64_t g = 0; g < ng; g++)
		cb_repack_group(t->dtype, src + (size_t)(g * CB_RGROUP) * rb, rb, n,
				dst + (size_t)(g * CB_RGROUP) * rb);
	memcpy(dst + (size_t)(ng * CB_RGROUP) * rb, src + (size_t)(ng * CB_RGROUP) * rb,
	       (size_t)(rows - ng * CB_RGROUP) * rb);
	s->w[idx].rp = dst;
	s->w[idx].rp_groups = ng;
	s->w[idx].rp_paged = only_repacked(s) && page_out(t->data, bytes);
}

/* Row r of tensor idx in its stored format: the model's bytes, or, for a
 * repacked tensor, the row put back together in tmp (pb_row_bytes). */
const uint8_t *cb_row_bytes_of(struct cb_state *s, int idx, int64_t r, uint8_t *tmp)
{
	const struct pb_tensor *t = &s->m->tensors[idx];
	const struct cb_weight *w = &s->w[idx];
	const size_t rb = pb_row_bytes(t);
	if (!w->rp)
		return (const uint8_t *)t->data + (size_t)r * rb;
	if (r >= w->rp_groups * CB_RGROUP)
		return w->rp + (size_t)r * rb;
	cb_repack_row(t->dtype, w->rp + (size_t)(r / CB_RGROUP * CB_RGROUP) * rb,
		      (int)(r % CB_RGROUP), t->ne[0], tmp);
	return tmp;
}
