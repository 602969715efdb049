/* tests/cpu-blas/kquant-ref.h — k-quant rows for the cpu-blas tests, built
 * byte by byte (valid blocks need no quantiser), and a decoder of one
 * element at a time written from ggml's dequantize_row_q*_K with index
 * arithmetic of its own, so it shares nothing with the plugin's
 * kquant.h: the ground truth the kernels are held to. */
#ifndef PB_TEST_KQUANT_REF_H
#define PB_TEST_KQUANT_REF_H

#include <stddef.h>
#include <stdint.h>

#include <prunebench/tensor.h>

/* One element, value = a·(u − off) − mn: a = d·scale, u the stored
 * unsigned bits, off the format's offset (Q3_K 4, Q6_K 32, else 0),
 * mn = dmin·min (Q2_K, Q4_K, Q5_K, else 0); all exact in double. */
struct kq_elem {
	double a;
	int u, off;
	double mn;
};

enum kq_kind {
	KQ_RANDOM,     /* random bytes, random d (and dmin) */
	KQ_ONES,       /* every bit set: top values, Q6_K scales −1 */
	KQ_EIGHTIES,   /* every byte 0x80: Q6_K scales −128 */
	KQ_ZEROS,      /* every bit clear but d, dmin */
	KQ_KINDS
};

extern const enum pb_dtype kq_types[5];   /* Q2_K … Q6_K */

uint32_t kq_rand(void);          /* xorshift64*, fixed seed */
double kq_uniform(void);         /* [-1, 1) */

/* n / 256 super-blocks of `kind` into row */
void kq_fill_row(enum pb_dtype d, uint8_t *row, int64_t n, enum kq_kind kind);
struct kq_elem kq_elem(enum pb_dtype d, const uint8_t *row, int64_t e);
double kq_value(enum pb_dtype d, const uint8_t *row, int64_t e);
/* |a|·(u + off) + |mn|: what the kernels' partial sums can grow by per
 * unit of activation */
double kq_magnitude(enum pb_dtype d, const uint8_t *row, int64_t e);

#endif
