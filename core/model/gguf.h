/* core/model/gguf.h — GGUF constants shared by the reader and writer
 * (see ggml's docs/gguf.md).  Everything is little-endian.
 *
 * Versions: 1 stores counts, string lengths and tensor dimensions as
 * uint32; 2 and 3 as uint64 (3 only added big-endian files, which we
 * neither read nor write).  We read 1, 2 and 3 and write 3. */
#ifndef PB_GGUF_H
#define PB_GGUF_H

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF reader and writer assume a little-endian host"
#endif

#define GGUF_MAGIC 0x46554747u          /* "GGUF" read as a little-endian u32 */
#define GGUF_VERSION 3
#define GGUF_DEFAULT_ALIGNMENT 32

enum gguf_type {
	GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3,
	GGUF_UINT32 = 4, GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7,
	GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT64 = 10, GGUF_INT64 = 11,
	GGUF_FLOAT64 = 12, GGUF_TYPE_COUNT
};

/* ggml tensor type ids of the formats prunebench names */
#define GGML_TYPE_F32 0
#define GGML_TYPE_F16 1
#define GGML_TYPE_Q4_0 2
#define GGML_TYPE_Q8_0 8
#define GGML_TYPE_Q2_K 10
#define GGML_TYPE_Q3_K 11
#define GGML_TYPE_Q4_K 12
#define GGML_TYPE_Q5_K 13
#define GGML_TYPE_Q6_K 14
#define GGML_TYPE_BF16 30

/* llama.cpp's general.file_type (enum llama_ftype) of a whole file */
#define LLAMA_FTYPE_ALL_F32 0
#define LLAMA_FTYPE_MOSTLY_F16 1
#define LLAMA_FTYPE_MOSTLY_Q4_0 2
#define LLAMA_FTYPE_MOSTLY_Q8_0 7
#define LLAMA_FTYPE_MOSTLY_Q2_K 10
#define LLAMA_FTYPE_MOSTLY_Q3_K_S 11
#define LLAMA_FTYPE_MOSTLY_Q3_K_M 12
#define LLAMA_FTYPE_MOSTLY_Q3_K_L 13
#define LLAMA_FTYPE_MOSTLY_Q4_K_S 14
#define LLAMA_FTYPE_MOSTLY_Q4_K_M 15
#define LLAMA_FTYPE_MOSTLY_Q5_K_S 16
#define LLAMA_FTYPE_MOSTLY_Q5_K_M 17
#define LLAMA_FTYPE_MOSTLY_Q6_K 18
#define LLAMA_FTYPE_MOSTLY_BF16 32

#define GGML_QNT_VERSION 2   /* general.quantization_version */

/* T5's relative attention max distance is fixed at 128 in llama.cpp; a
 * model with another one carries this prunebench key (ignored there). */
#define PB_GGUF_KEY_REL_MAX_DISTANCE "attention.relative_max_distance"
/* Logit scale when it is not what the file's layout implies (tied T5:
 * d_model^-0.5, else 1); prunebench only. */
#define PB_GGUF_KEY_LOGIT_SCALE "logit_scale"

#endif
