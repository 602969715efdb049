/* core/model/nm24.c — dense weights to and from the packed 2:4 layout
 * (PB_NM_2_4, described in prunebench/tensor.h), for backends that declare
 * PB_FMT(PB_NM_2_4): the core packs a linear that satisfies 2:4 along its
 * rows and leaves any other one dense.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "util/util.h"

size_t pb_nm24_bytes(int64_t cols, int64_t rows)
{
	if (cols <= 0 || rows <= 0 || cols % 4)
		return 0;
	return (size_t)rows * ((size_t)cols / 2 * sizeof(float) + (size_t)cols / 4);
}

/* Rows of a dense tensor, or -EINVAL when its data cannot hold them. */
static int64_t dense_rows(const struct pb_tensor *t, size_t *rb)
{
	int64_t n0 = t->ne[0];
	if (n0 <= 0 || !(*rb = pb_dtype_row_bytes(t->dtype, n0)))
		return -EINVAL;
	int64_t rows = pb_tensor_nelements(t) / n0;
	if (rows <= 0 || (size_t)rows > t->nbytes / *rb || !t->data)
		return -EINVAL;
	return rows;
}

int pb_tensor_nm24_ok(const struct pb_tensor *t)
{
	size_t rb;
	int64_t rows = dense_rows(t, &rb), n0 = t->ne[0];
	float *row;
	int ok = 1;

	if (rows < 0 || n0 % 4 || pb_dtype_block(t->dtype) != 1)
		return 0;
	row = malloc((size_t)n0 * sizeof(*row));
	if (!row)
		return 0;
	for (int64_t r = 0; r < rows && ok; r++) {
		pb_dequantize_row(t->dtype, (const uint8_t *)t->data + (size_t)r * rb, row, n0);
		for (int64_t g = 0; g < n0 && ok; g += 4)
			ok = (row[g] != 0) + (row[g + 1] != 0) + (row[g + 2] != 0) +
			     (row[g + 3] != 0) <= 2;
	}
	free(row);
	return ok;
}

int pb_tensor_pack_nm24(struct pb_tensor *t, char *err, size_t len)
{
	size_t rb;
	int64_t rows = dense_rows(t, &rb), n0 = t->ne[0];
	size_t total, vals_bytes;
	uint8_t *dst, *meta;
	float *row, *vals;

	if (t->dtype == PB_NM_2_4)
		return 0;
	if (rows < 0 || pb_dtype_block(t->dtype) != 1)
		return pb_errf(err, len, -EINVAL, "tensor '%s': %s with %lld columns cannot be "
			       "packed to NM_2_4 (needs dense F32/F16/BF16 rows)", t->name,
			       pb_dtype_name(t->dtype), (long long)n0);
	if (n0 % 4)
		return pb_errf(err, len, -EINVAL, "tensor '%s': %lld columns are not a whole "
			       "number of groups of 4", t->name, (long long)n0);
	total = pb_nm24_bytes(n0, rows);
	vals_bytes = (size_t)rows * (size_t)(n0 / 2) * sizeof(float);
	dst = malloc(total);
	row = malloc((size_t)n0 * sizeof(*row));
	if (!dst || !row) {
		free(dst);
		free(row);
		return pb_errf(err, len, -ENOMEM, "tensor '%s': out of memory packing NM_2_4", t->name);
	}
	vals = (float *)dst;
	meta = dst + vals_bytes;
	for (int64_t r = 0; r < rows; r++) {
		pb_dequantize_row(t->dtype, (const uint8_t *)t->data + (size_t)r * rb, row, n0);
		for (int64_t g = 0; g < n0 / 4; g++) {
			const float *x = row + 4 * g;
			int idx[2], k = 0;
			for (int j = 0; j < 4; j++)
				if (x[j] != 0) {
					if (k == 2) {
						free(dst);
						free(row);
						return pb_errf(err, len, -EINVAL, "tensor '%s': row %lld, "
							       "columns %lld..%lld hold more than 2 "
							       "non-zeros: not 2:4 sparse", t->name,
							       (long long)r, (long long)(4 * g),
							       (long long)(4 * g + 3));
					}
					idx[k++] = j;
				}
			/* fewer than two non-zeros: fill with the lowest free
			 * offsets, which hold zeros */
			for (int j = 0; k < 2 && j < 4; j++)
				if (k == 0 || j != idx[0])
					idx[k++] = j;
			if (idx[0] > idx[1]) {
				int tmp = idx[0];
				idx[0] = idx[1];
				idx[1] = tmp;
			}
			vals[r * (n0 / 2) + 2 * g] = x[idx[0]];
			vals[r * (n0 / 2) + 2 * g + 1] = x[idx[1]];
			meta[r * (n0 / 4) + g] = (uint8_t)(idx[0] | idx[1] << 2);
		}
	}
	free(row);
	if (t->flags & PB_TENSOR_OWNED)
		free(t->data);
	t->data = dst;
	t->nbytes = total;
	t->dtype = PB_NM_2_4;
	t->flags |= PB_TENSOR_OWNED;
	return 0;
}

int pb_tensor_unpack_nm24(struct pb_tensor *t, char *err, size_t len)
{
	int64_t n0 = t->ne[0], rows = n0 > 0 ? pb_tensor_nelements(t) / n0 : 0;
	size_t total = pb_nm24_bytes(n0, rows);
	const float *vals;
	const uint8_t *meta;
	float *dst;

	if (t->dtype != PB_NM_2_4)
		return pb_errf(err, len, -EINVAL, "tensor '%s' is %s, not NM_2_4", t->name,
			       pb_dtype_name(t->dtype));
	if (!total || t->nbytes < total || !t->data)
		return pb_errf(err, len, -EINVAL, "tensor '%s': NM_2_4 data of %zu bytes does not "
			       "fit %lld × %lld", t->name, t->nbytes, (long long)rows, (long long)n0);
	dst = calloc((size_t)(rows * n0), sizeof(*dst));
	if (!dst)
		return pb_errf(err, len, -ENOMEM, "tensor '%s': out of memory", t->name);
	vals = t->data;
	meta = (const uint8_t *)t->data + (size_t)rows * (size_t)(n0 / 2) * sizeof(float);
	for (int64_t r = 0; r < rows; r++)
		for (int64_t g = 0; g < n0 / 4; g++) {
			uint8_t b = meta[r * (n0 / 4) + g];
			int i0 = b & 3, i1 = (b >> 2) & 3;
			if (i0 >= i1 || b >> 4) {
				free(dst);
				return pb_errf(err, len, -EINVAL, "tensor '%s': row %lld group %lld: "
					       "bad NM_2_4 index byte 0x%02x", t->name,
					       (long long)r, (long long)g, b);
			}
			dst[r * n0 + 4 * g + i0] = vals[r * (n0 / 2) + 2 * g];
			dst[r * n0 + 4 * g + i1] = vals[r * (n0 / 2) + 2 * g + 1];
		}
	if (t->flags & PB_TENSOR_OWNED)
		free(t->data);
	t->data = dst;
	t->nbytes = (size_t)(rows * n0) * sizeof(float);
	t->dtype = PB_F32;
	t->flags |= PB_TENSOR_OWNED;
	return 0;
}
