/* tests/engine/naive-t5.h — an independent T5 forward for test-t5.c:
 * plain loops over the model's F32 tensors, no cache, double sums. */
#ifndef NAIVE_T5_H
#define NAIVE_T5_H

#include <stdint.h>

#include <prunebench/model.h>

/* The bucket of relative position rel (key - query), counted from the
 * log-spaced thresholds rather than HF's closed form. */
int naive_bucket(int rel, int bidirectional, int n_buckets, int max_distance);
/* The final encoder output [n × dim], malloc'd. */
float *naive_encode(const struct pb_model *m, const int32_t *src, int n);
/* Logits [n × vocab] of every decoder row over tgt[0..n), from scratch. */
void naive_decode(const struct pb_model *m, const float *enc, int n_src, const int32_t *tgt,
		  int n, float *logits);

#endif
