/* plugins/backends/ref/ref-kquant.h — the ref backend's k-quant row
 * decoder (ref-kquant.c), private to the plugin. */
#ifndef PB_REF_KQUANT_H
#define PB_REF_KQUANT_H

#include <stdint.h>

#include <prunebench/tensor.h>

/* n values (a multiple of 256) of a Q2_K … Q6_K row at p into y. */
void ref_kquant_row(enum pb_dtype d, const uint8_t *p, int64_t n, float *y);

#endif
