/* core/model/llama2c.c — Karpathy's llama2.c checkpoints (the legacy
 * "version 0" export): a header of 7 int32 (dim, hidden_dim, n_layers,
 * n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means
 * the classifier is stored, not shared with the embedding), then fp32
 * weights, each kind stacked over the layers:
 *
 *   token_embedding [vocab × dim], rms_att [L × dim], wq [L × dim × dim],
 *   wk [L × kv_dim × dim], wv [L × kv_dim × dim], wo [L × dim × dim],
 *   rms_ffn [L × dim], w1 [L × hidden × dim], w2 [L × dim × hidden],
 *   w3 [L × hidden × dim], rms_final [dim], freq_cis_real and
 *   freq_cis_imag [seq_len × head_size / 2] (unused: RoPE is recomputed),
 *   wcls [vocab × dim] when not shared.
 *
 * Matrices are row-major [out × in], which is GGUF's ne = [in, out], and
 * q/k rows are already in Meta's interleaved RoPE layout, so tensors point
 * straight into the mapping.  The tokenizer is a separate file: the one
 * named, else tokenizer.bin or a single tok*.bin beside the checkpoint.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "model/model-internal.h"
#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

#define HEADER_BYTES 28
#define LLAMA2C_MAGIC 0x616b3432u   /* "ak42": the newer versioned exports */

static const char *const field_names[7] = {
	"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len",
};

/* tokenizer.bin, else the only tok*.bin, beside the checkpoint. */
static int find_tokenizer(const char *path, char *out, size_t len, char *err, size_t errlen)
{
	char dir[4096], found[512] = "";
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int n = 0;
	pb_dirname(path, dir, sizeof dir);
	DIR *d = opendir(dir);
	if (!d)
		return pb_errf(err, errlen, -errno, "%s: cannot list its folder: %s", path, strerror(errno));
	for (struct dirent *e; (e = readdir(d));) {
		size_t l = strlen(e->d_name);
		if (!strcmp(e->d_name, "tokenizer.bin")) {
			snprintf(found, sizeof found, "%s", e->d_name);
			n = 1;
			break;
		}
		if (!strncmp(e->d_name, "tok", 3) && l > 7 && !strcmp(e->d_name + l - 4, ".bin") &&
		    strcmp(e->d_name, base)) {
			if (n++ == 0)
				snprintf(found, sizeof found, "%s", e->d_name);
		}
	}
	closedir(d);
	if (n == 0)
		return pb_errf(err, errlen, -ENOENT,
			       "%s: no tokenizer beside it (expected tokenizer.bin or one tok*.bin in %s; or name one with `tokenizer:`)",
			       path, dir);
	if (n > 1)
		return pb_errf(err, errlen, -EINVAL,
			       "%s: %d tok*.bin files beside it; name the tokenizer with `tokenizer:`", path, n);
	return pb_path_join(out, len, dir, found) < 0
		? pb_errf(err, errlen, -ENAMETOOLONG, "%s: path too long", path) : 0;
}

struct l2c_plan {
	int32_t h[7];
	int shared;
	int64_t dim, hidden, layers, heads, kv_heads, vocab, seq, head, kv_dim;
};

/* Check the header; the offset in a message is the field's. */
static int check_header(const char *path, const uint8_t *p, size_t len, struct l2c_plan *pl,
			char *err, size_t errlen)
{
	if (len < HEADER_BYTES)
		return pb_errf(err, errlen, -EINVAL,
			       "%s: offset 0: truncated: %zu bytes, a llama2.c checkpoint starts with a 28-byte header",
			       path, len);
	memcpy(pl->h, p, sizeof pl->h);
	if ((uint32_t)pl->h[0] == LLAMA2C_MAGIC)
		return pb_errf(err, errlen, -ENOTSUP,
			       "%s: offset 0: llama2.c export version %d (magic 'ak42') is not supported; export with --version 0 (legacy)",
			       path, pl->h[1]);
	static const int64_t max[7] = { 1 << 16, 1 << 20, 1 << 12, 1 << 12, 1 << 12, 1 << 22, 1 << 22 };
	for (int i = 0; i < 7; i++) {
		int64_t v = i == 5 ? (pl->h[i] < 0 ? -(int64_t)pl->h[i] : pl->h[i]) : pl->h[i];
		if (v < 1 || v > max[i])
			return pb_errf(err, errlen, -EINVAL, "%s: offset %d: %s is %d, expected 1..%lld%s",
				       path, 4 * i, field_names[i], pl->h[i], (long long)max[i],
				       i == 5 ? " (negative: unshared classifier)" : "");
	}
	pl->dim = pl->h[0];
	pl->hidden = pl->h[1];
	pl->layers = pl->h[2];
	pl->heads = pl->h[3];
	pl->kv_heads = pl->h[4];
	pl->shared = pl->h[5] > 0;
	pl->vocab = pl->shared ? pl->h[5] : -(int64_t)pl->h[5];
	pl->seq = pl->h[6];
	if (pl->dim % pl->heads)
		return pb_errf(err, errlen, -EINVAL, "%s: offset 12: dim %lld is not a multiple of n_heads %lld",
			       path, (long long)pl->dim, (long long)pl->heads);
	pl->head = pl->dim / pl->heads;
	if (pl->head % 2)
		return pb_errf(err, errlen, -EINVAL, "%s: offset 12: head size %lld is odd (RoPE rotates pairs)",
			       path, (long long)pl->head);
	if (pl->kv_heads > pl->heads || pl->heads % pl->kv_heads)
		return pb_errf(err, errlen, -EINVAL, "%s: offset 16: n_heads %lld is not a multiple of n_kv_heads %lld",
			       path, (long long)pl->heads, (long long)pl->kv_heads);
	pl->kv_dim = pl->kv_heads * pl->head;
	return 0;
}

/* One tensor kind, stacked over `count` layers (count 0: global). */
struct l2c_kind {
	enum pb_role role;
	int per_layer;
	int64_t ne0, ne1;
};

int pb_llama2c_load(const char *path, const char *tok_path, struct pb_model **out,
		    char *err, size_t len)
{
	struct l2c_plan pl = { 0 };
	struct pb_model *m = NULL;
	void *map = NULL;
	size_t flen = 0;
	char tpath[4096];
	int rc;
	if (err && len)
		err[0] = '\0';
	if ((rc = pb_map_file(path, &map, &flen, err, len)) < 0)
		return rc;
	if ((rc = check_header(path, map, flen, &pl, err, len)) < 0)
		goto fail;
	const struct l2c_kind kinds[] = {
		{ PB_ROLE_TOK_EMBD, 0, pl.dim, pl.vocab },
		{ PB_ROLE_ATTN_NORM, 1, pl.dim, 1 },
		{ PB_ROLE_ATTN_Q, 1, pl.dim, pl.dim },
		{ PB_ROLE_ATTN_K, 1, pl.dim, pl.kv_dim },
		{ PB_ROLE_ATTN_V, 1, pl.dim, pl.kv_dim },
		{ PB_ROLE_ATTN_O, 1, pl.dim, pl.dim },
		{ PB_ROLE_FFN_NORM, 1, pl.dim, 1 },
		{ PB_ROLE_FFN_GATE, 1, pl.dim, pl.hidden },
		{ PB_ROLE_FFN_DOWN, 1, pl.hidden, pl.dim },
		{ PB_ROLE_FFN_UP, 1, pl.dim, pl.hidden },
		{ PB_ROLE_OUT_NORM, 0, pl.dim, 1 },
		{ PB_ROLE_OTHER, 0, pl.head / 2, 2 * pl.seq },   /* freq_cis_real, freq_cis_imag */
		{ PB_ROLE_OUTPUT, 0, pl.dim, pl.vocab },          /* wcls, when not shared */
	};
	int n_kinds = (int)PB_ARRAY_LEN(kinds) - pl.shared;
	/* every size fits easily in 64 bits: each field is bounded above */
	uint64_t need = HEADER_BYTES;
	for (int k = 0; k < n_kinds; k++)
		need += 4ull * (uint64_t)kinds[k].ne0 * (uint64_t)kinds[k].ne1 *
			(uint64_t)(kinds[k].per_layer ? pl.layers : 1);
	if (need != flen) {
		rc = pb_errf(err, len, -EINVAL,
			     "%s: offset %zu: %s: the header (dim %lld, hidden_dim %lld, %lld layers, %lld kv heads, vocabulary %lld%s, seq_len %lld) needs %llu bytes of fp32 weights and header, the file has %zu",
			     path, need < flen ? (size_t)need : flen,
			     need < flen ? "unexpected bytes after the weights" : "truncated",
			     (long long)pl.dim, (long long)pl.hidden, (long long)pl.layers,
			     (long long)pl.kv_heads, (long long)pl.vocab, pl.shared ? "" : ", unshared classifier",
			     (long long)pl.seq, (unsigned long long)need, flen);
		goto fail;
	}
	int n_t = 3 + 9 * (int)pl.layers + 1;
	m = pb_model_alloc(n_t);
	if (!m) {
		rc = pb_errf(err, len, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	struct pb_model_core *core = m->core;
	core->base = map;
	core->base_len = flen;
	core->base_is_mmap = 1;
	map = NULL;
	snprintf(core->source, sizeof core->source, "%s", path);
	int n = 0, embd = 0;
	size_t off = HEADER_BYTES;
	for (int k = 0; k < n_kinds; k++) {
		const struct l2c_kind *kd = &kinds[k];
		size_t bytes = 4 * (size_t)kd->ne0 * (size_t)kd->ne1;
		if (kd->role == PB_ROLE_OTHER) {   /* RoPE tables: skipped */
			off += bytes;
			continue;
		}
		for (int l = 0; l < (kd->per_layer ? (int)pl.layers : 1); l++, off += bytes) {
			struct pb_tensor *t = &m->tensors[n];
			t->dtype = PB_F32;
			t->ne[0] = kd->ne0;
			t->ne[1] = kd->ne1;
			t->ne[2] = t->ne[3] = 1;
			t->n_dims = kd->ne1 == 1 ? 1 : 2;
			t->data = (uint8_t *)core->base + off;
			t->nbytes = bytes;
			t->layer = kd->per_layer ? l : -1;
			t->role = kd->role;
			t->stack = PB_STACK_DECODER;
			pb_tensor_role_name(t->layer, t->role, t->name, sizeof t->name);
			if (kd->role == PB_ROLE_TOK_EMBD)
				embd = n;
			n++;
		}
	}
	m->n_tensors = n;
	if (pl.shared)
		pb_model_tie_output(m, embd);
	struct pb_hparams *hp = &m->hp;
	m->arch = PB_ARCH_LLAMA;
	hp->dim = (int)pl.dim;
	hp->n_layers = (int)pl.layers;
	hp->n_heads = (int)pl.heads;
	hp->n_kv_heads = (int)pl.kv_heads;
	hp->head_dim = (int)pl.head;
	hp->ffn_dim = (int)pl.hidden;
	hp->vocab = (int)pl.vocab;
	hp->ctx = (int)pl.seq;
	hp->norm_eps = 1e-5f;          /* llama2.c's rmsnorm */
	hp->rope_theta = 10000.0f;
	hp->rope_layout = PB_ROPE_INTERLEAVED;
	hp->ffn_act = PB_ACT_SILU;
	hp->ffn_gated = 1;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	snprintf(m->name, sizeof m->name, "%.*s", (int)(strlen(base) > 4 ? strlen(base) - 4 : strlen(base)), base);
	if (!tok_path) {
		if ((rc = find_tokenizer(path, tpath, sizeof tpath, err, len)) < 0)
			goto fail;
		tok_path = tpath;
	}
	if ((rc = pb_tokenizer_file_load(tok_path, hp->vocab, &core->tok, err, len)) < 0)
		goto fail;
	if (pb_tokenizer_vocab(core->tok) > hp->vocab) {
		rc = pb_errf(err, len, -EINVAL, "%s: tokenizer has %d tokens, the model %d", tok_path,
			     pb_tokenizer_vocab(core->tok), hp->vocab);
		goto fail;
	}
	hp->bos_id = pb_tokenizer_bos(core->tok);
	hp->eos_id = pb_tokenizer_eos(core->tok);
	*out = m;
	return 0;
fail:
	if (map)
		munmap(map, flen);
	pb_model_free(m);
	return rc;
}
