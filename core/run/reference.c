/* core/run/reference.c — the dense reference: its cache folder (a lock
 * file that works on shared filesystems, temporary folder, rename) and
 * computing it on the `ref` backend for a cell (definitions in
 * reference.h).  Its file format, reference.bin, is in reference-file.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pb-config.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "plugin/host.h"
#include "results/results.h"
#include "run/reference.h"
#include "run/shared-lock.h"
#include "util/util.h"

int pb_reference_topk(int vocab)
{
	return vocab <= PB_REF_TOPK_SMALL_VOCAB ? vocab : PB_REF_TOPK;
}

void pb_reference_free(struct pb_reference *r)
{
	if (!r)
		return;
	pb_tf_set_free(&r->set);
	free(r->ids);
	free(r->logp);
	free(r->tail_logp);
	free(r->target_logp);
	free(r);
}

/* ---- the cache */

static int write_manifest(const struct pb_reference *r, const char *key, const char *path,
			  double ms)
{
	char now[32];
	struct pb_yaml_out *y = pb_yaml_open(path);
	if (!y)
		return -errno;
	pb_iso8601_now(now, sizeof now);
	pb_yaml_kv(y, "what", "%s", "dense reference: top-K log-probabilities per scored position");
	pb_yaml_kv(y, "prunebench", "%s (%s)", PB_VERSION, PB_GIT_REV);
	pb_yaml_kv(y, "created", "%s", now);
	pb_yaml_kv(y, "compute_ms", "%.3f", ms);
	pb_yaml_kv(y, "top_k", "%d", r->k);
	pb_yaml_kv(y, "vocab", "%d", r->vocab);
	pb_yaml_kv(y, "sequences", "%d", r->set.n);
	pb_yaml_kv(y, "scored_positions", "%ld", r->set.n_rows);
	pb_yaml_kv(y, "byte_order", "%s", __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "little" : "big");
	pb_yaml_kv(y, "key", "%s", key);
	return pb_yaml_close(y);
}

/* How long a lock may go untouched before its holder counts as dead on
 * another node.  The holder touches it every quarter of this. */
#define REF_LOCK_STALE_S 60.0
/* A temporary folder this old is a dead writer's: writing one takes
 * seconds, and it is created only after the reference is computed. */
#define REF_TMP_STALE_S 3600

/* Leftovers of writers that died: <name>.tmp.<host>.<pid>, of a dead
 * process on this host or older than REF_TMP_STALE_S.  Another node's
 * live writer's folder is never touched. */
static void remove_stale(const char *dir, const char *name)
{
	char prefix[512], path[4096], my[300];
	struct stat st;
	time_t now = time(NULL);
	pb_shared_lock_owner(my, sizeof my);
	*strrchr(my, '.') = '\0';
	snprintf(prefix, sizeof prefix, "%s.tmp.", name);
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		const char *owner = de->d_name + strlen(prefix), *dot;
		if (strncmp(de->d_name, prefix, strlen(prefix)) ||
		    pb_path_join(path, sizeof path, dir, de->d_name) < 0 || lstat(path, &st) < 0)
			continue;
		int dead = 0;
		if ((dot = strrchr(owner, '.')) && (size_t)(dot - owner) == strlen(my) &&
		    !strncmp(owner, my, strlen(my)))
			dead = kill((pid_t)strtol(dot + 1, NULL, 10), 0) < 0 && errno == ESRCH;
		if (dead || now - st.st_mtime > REF_TMP_STALE_S)
			pb_rm_rf(path);
	}
	if (d)
		closedir(d);
}

int pb_reference_clean(const char *output)
{
	char dir[4096], path[4096];
	size_t stem;
	if (pb_path_join(dir, sizeof dir, output, "reference") < 0)
		return -ENAMETOOLONG;
	int removed = pb_shared_lock_clean(dir, ".lock");
	if (removed < 0)
		return removed;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		/* <name>.tmp.<host>.<pid>/ of a writer that died */
		if (pb_owned_by_dead(de->d_name, &stem) && stem > 4 &&
		    !strncmp(de->d_name + stem - 4, ".tmp", 4) &&
		    pb_path_join(path, sizeof path, dir, de->d_name) == 0 && pb_rm_rf(path) == 0)
			removed++;
	}
	if (d)
		closedir(d);
	return removed;
}

/* Write into <name>.tmp.<host>.<pid>/ and rename it to final.  When final
 * already exists (another writer got there first after a lock was broken)
 * ours is dropped: *lost is set and the caller reads theirs. */
static int store(const struct pb_reference *r, const char *dir, const char *name,
		 const char *key, const char *final, double ms, int *lost, char *err, size_t len)
{
	char tmp[4096], path[4096], base[900], owner[300];
	int rc;
	*lost = 0;
	pb_shared_lock_owner(owner, sizeof owner);
	snprintf(base, sizeof base, "%s.tmp.%s", name, owner);
	if ((rc = pb_path_join(tmp, sizeof tmp, dir, base)) < 0)
		return pb_errf(err, len, rc, "reference: path too long");
	pb_rm_rf(tmp);
	if (mkdir(tmp, 0755) < 0)
		return pb_errf(err, len, -errno, "reference: cannot create %s: %s", tmp, strerror(errno));
	pb_path_join(path, sizeof path, tmp, "reference.bin");
	if ((rc = pb_reference_write(r, key, path)) < 0)
		goto fail;
	pb_path_join(path, sizeof path, tmp, "manifest.yaml");
	if ((rc = write_manifest(r, key, path, ms)) < 0)
		goto fail;
	/* rename never replaces a non-empty folder: the first one stays */
	if (rename(tmp, final) < 0) {
		rc = -errno;
		if (rc == -EEXIST || rc == -ENOTEMPTY) {
			pb_rm_rf(tmp);
			*lost = 1;
			return 0;
		}
		goto fail;
	}
	return 0;
fail:
	pb_rm_rf(tmp);
	return pb_errf(err, len, rc, "reference: writing %s: %s", path, strerror(-rc));
}

static int bin_exists(void *arg)
{
	struct stat st;
	return stat(arg, &st) == 0;
}

int pb_reference_cached(const char *dir, const char *name, const char *key,
			pb_reference_fn fn, void *arg, struct pb_reference **out,
			char *err, size_t len)
{
	char final[4096], bin[4096], lock[4096], lname[600];
	struct pb_shared_lock lk;
	struct stat st;
	double t0 = pb_now_ms();
	int rc, lost = 0;

	*out = NULL;
	snprintf(lname, sizeof lname, "%s.lock", name);
	if ((rc = pb_mkdir_p(dir)) < 0)
		return pb_errf(err, len, rc, "reference: cannot create %s: %s", dir, strerror(-rc));
	if (pb_path_join(final, sizeof final, dir, name) < 0 ||
	    pb_path_join(bin, sizeof bin, final, "reference.bin") < 0 ||
	    pb_path_join(lock, sizeof lock, dir, lname) < 0)
		return pb_errf(err, len, -ENAMETOOLONG, "reference: path too long");
	/* the folder appears whole (rename), so a present file is complete */
	if (stat(bin, &st) == 0)
		goto read;
	rc = pb_shared_lock_acquire(&lk, lock, REF_LOCK_STALE_S, bin_exists, bin, err, len);
	if (rc < 0)
		return rc;    /* err names the lock */
	if (rc == 1)
		goto read;    /* another process computed it while we waited */
	if (stat(bin, &st) == 0) {
		pb_shared_lock_release(&lk);
		goto read;
	}
	remove_stale(dir, name);
	struct pb_reference *r = NULL;
	if ((rc = fn(arg, &r, err, len)) < 0)
		goto out;
	r->ms = pb_now_ms() - t0;
	if ((rc = store(r, dir, name, key, final, r->ms, &lost, err, len)) < 0 || lost) {
		pb_reference_free(r);
		if (rc < 0)
			goto out;
		pb_shared_lock_release(&lk);
		goto read;
	}
	snprintf(r->dir, sizeof r->dir, "%s", final);
	*out = r;
	goto out;
read:
	if ((rc = pb_reference_read(bin, key, out, err, len)) == 0) {
		(*out)->cached = 1;
		(*out)->ms = pb_now_ms() - t0;
		snprintf((*out)->dir, sizeof (*out)->dir, "%s", final);
	}
	return rc;
out:
	pb_shared_lock_release(&lk);
	return rc;
}

/* ---- a cell's reference */

/* Pack an F32 linear to NM_2_4 when the backend runs that format and the
 * tensor satisfies 2:4 along its rows (a pruner left ≤ 2 non-zeros in every
 * group of four): half the values plus 2-bit indices is 0.56× the bytes,
 * which is what a decode step must stream.  Only F32: packed values are
 * F32, so a packed F16/BF16 tensor would grow.  A tensor much sparser than
 * 2:4 (density ≤ 1/4) is left alone for the backend's own sparse kernels. */
static int maybe_pack_nm24(struct pb_tensor *t, uint32_t formats)
{
	char err[256];
	if (!(formats & PB_FMT(PB_NM_2_4)) || t->dtype != PB_F32 || !pb_role_is_linear(t->role) ||
	    !pb_tensor_nm24_ok(t))
		return 0;
	const float *w = t->data;
	const int64_t n = pb_tensor_nelements(t);
	int64_t nz = 0;
	for (int64_t i = 0; i < n; i++)
		nz += w[i] != 0.0f;
	if (4 * nz <= n)
		return 0;
	if (pb_tensor_pack_nm24(t, err, sizeof err) < 0) {
		pb_log(PB_LOG_ERROR, "%s", err);
		return -EINVAL;
	}
	return 0;
}

/* One line per format the backend lacks: how many tensors went to F32. */
static void log_converted(const int *n, uint32_t formats)
{
	char have[160] = "";
	size_t used = 0;
	for (int d = 0; d < PB_DTYPE_COUNT; d++)
		if (formats & PB_FMT(d))
			used += (size_t)snprintf(have + used, used < sizeof have ? sizeof have - used : 0,
						 "%s%s", used ? ", " : "", pb_dtype_name((enum pb_dtype)d));
	for (int d = 0; d < PB_DTYPE_COUNT; d++)
		if (n[d])
			pb_log(PB_LOG_INFO, "%d tensor%s in %s dequantized to F32: the backend runs only %s",
			       n[d], n[d] == 1 ? "" : "s", pb_dtype_name((enum pb_dtype)d), have);
}

int pb_convert_for_backend(struct pb_model *m, uint32_t formats)
{
	int converted[PB_DTYPE_COUNT] = { 0 };
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		int rc = maybe_pack_nm24(t, formats);
		if (rc < 0)
			return rc;
		if (formats & PB_FMT(t->dtype))
			continue;
		if (!(formats & PB_FMT(PB_F32)))
			return -ENOTSUP;
		if ((unsigned)t->dtype < PB_DTYPE_COUNT)
			converted[t->dtype]++;
		int64_t rows = pb_tensor_nelements(t) / t->ne[0];
		float *buf = malloc((size_t)pb_tensor_nelements(t) * sizeof(float));
		if (!buf)
			return -ENOMEM;
		for (int64_t r = 0; r < rows; r++) {
			int err = pb_tensor_row_f32(t, r, buf + r * t->ne[0]);
			if (err < 0) {
				free(buf);
				return err;
			}
		}
		/* a tied output shares the embedding's data, which the
		 * realloc below frees when the core owns it: find who shares it
		 * first, and let them follow the new data */
		int sharers[4], n_sh = 0, sharer_owns = 0;
		void *old = t->data;
		for (int j = 0; j < m->n_tensors && n_sh < 4; j++)
			if (j != i && m->tensors[j].data == t->data && m->tensors[j].dtype == t->dtype &&
			    !memcmp(m->tensors[j].ne, t->ne, sizeof t->ne)) {
				sharer_owns |= (m->tensors[j].flags & PB_TENSOR_OWNED) != 0;
				sharers[n_sh++] = j;
			}
		int64_t ne[PB_MAX_DIMS];
		memcpy(ne, t->ne, sizeof ne);
		int err = pb_tensor_realloc(t, PB_F32, ne, (size_t)pb_tensor_nelements(t) * 4);
		if (err == 0)
			memcpy(t->data, buf, t->nbytes);
		free(buf);
		if (err < 0)
			return err;
		for (int k = 0; k < n_sh; k++) {
			struct pb_tensor *u = &m->tensors[sharers[k]];
			u->data = t->data;
			u->dtype = PB_F32;
			u->nbytes = t->nbytes;
			u->flags &= ~PB_TENSOR_OWNED;
		}
		if (sharer_owns)   /* t did not own it, so the realloc kept it */
			free(old);
	}
	log_converted(converted, formats);
	return 0;
}

/* The block of config_text that starts with "<key>:\n" at column 0. */
static void config_block(const char *text, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	const char *p = text;
	out[0] = '\0';
	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == ':')
			break;
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	if (!p || !*p)
		return;
	const char *e = strchr(p, '\n');
	while (e && e[1] == ' ')
		e = strchr(e + 1, '\n');
	size_t n = e ? (size_t)(e - p) + 1 : strlen(p);
	snprintf(out, len, "%.*s", (int)n, p);
}

struct get_ctx {
	const struct pb_experiment *e;
	const struct pb_cell *c;
	const struct pb_dataset *ds;
	const struct pb_model *m;
	const struct pb_plugin *ref;
};

static int compute(void *arg, struct pb_reference **out, char *err, size_t len)
{
	struct get_ctx *g = arg;
	const struct pb_plugin *p = g->ref;
	const struct pb_backend_ops *ops = p->ops;
	const struct pb_model_spec *ms = g->c->model;
	struct pb_model *copy = NULL;
	const struct pb_model *m = g->m;
	struct pb_session *sess = NULL;
	struct pb_tf_set set = { 0 };
	struct pb_host_ctx host;
	void *config = NULL, *state = NULL;
	int rc = 0;

	for (int i = 0; i < m->n_tensors; i++)
		if (!(ops->formats & PB_FMT(m->tensors[i].dtype))) {
			/* the dense weights in formats ref cannot run: a converted copy,
			 * leaving the cell's own model as the pruners expect it */
			rc = ms->source == PB_MODEL_SYNTH ?
			     pb_model_synth(ms->preset, ms->seed, &copy, err, len) :
			     pb_model_load(ms->path, &copy, err, len);
			if (rc < 0)
				return rc;
			if ((rc = pb_convert_for_backend(copy, ops->formats)) < 0) {
				rc = pb_errf(err, len, rc, "reference: cannot convert the model for 'ref'");
				goto out;
			}
			m = copy;
			break;
		}
	pb_host_init(&host, p->name, g->e->seed, 0);
	config = calloc(1, p->config_size ? p->config_size : 1);
	if (!config || (p->options && pb_options_defaults(p->options, config, p->config_size) < 0)) {
		rc = pb_errf(err, len, -ENOMEM, "reference: backend 'ref': cannot set its options");
		goto out;
	}
	if ((rc = p->init(&host.host, config, &state)) < 0) {
		state = NULL;
		rc = pb_errf(err, len, rc, "reference: backend 'ref': init failed: %s", strerror(-rc));
		goto out;
	}
	if ((rc = ops->weights_load(state, m)) < 0) {
		rc = pb_errf(err, len, rc, "reference: backend 'ref': weights_load failed: %s",
			     strerror(-rc));
		goto out;
	}
	if ((rc = pb_session_open(m, ops, state, &sess, err, len)) < 0)
		goto out;
	if ((rc = pb_tf_build(g->ds, g->c->dataset, m, g->e->score_tokens,
			      g->e->max_new_tokens, &set, err, len)) < 0)
		goto out;
	rc = pb_reference_compute(sess, m, &set, g->e->max_new_tokens, out, err, len);
out:
	pb_tf_set_free(&set);
	pb_session_close(sess);
	if (state)
		p->fini(state);
	free(config);
	pb_model_free(copy);
	return rc;
}

int pb_reference_get(const struct pb_experiment *e, const struct pb_cell *c,
		     const struct pb_dataset *ds, const struct pb_model *m,
		     const char *model_sha256, struct pb_reference **out,
		     char *err, size_t len)
{
	const struct pb_plugin_entry *pe = e->registry ?
		pb_registry_find(e->registry, PB_BACKEND, "ref") : NULL;
	char model[1024], dataset[2048], dir[4096], name[PB_NAME_MAX * 2 + 16], hex[65];
	*out = NULL;
	if (!pe)
		return pb_errf(err, len, -ENOENT, "no 'ref' backend is registered to compute "
			       "the dense reference");
	config_block(c->config_text, "model", model, sizeof model);
	config_block(c->config_text, "dataset", dataset, sizeof dataset);
	size_t klen = strlen(model) + strlen(dataset) + 512;
	char *key = malloc(klen);
	if (!key)
		return -ENOMEM;
	/* everything the stored rows depend on */
	/* v2: text tokenized as one stream; the protocol and its options
	 * (ctx, stride, bos, separator) also appear in the dataset block */
	const struct pb_dataset_spec *d = c->dataset;
	snprintf(key, klen, "prunebench dense reference v2\n%s  content_sha256: %s\n%s"
		 "  content_sha256: %s\nprotocol: %s\nctx: %d\nstride: %d\nseparator_len: %zu\n"
		 "seed: %llu\nmax_samples: %d\nscore_tokens: %d\nmax_new_tokens: %d\ntop_k: %d\n",
		 model, model_sha256, dataset, ds->sha256, pb_ppl_protocol_name(d, ds->kind),
		 d->ctx, d->stride, strlen(d->separator), (unsigned long long)e->seed,
		 e->max_samples, e->score_tokens, e->max_new_tokens, pb_reference_topk(m->hp.vocab));
	pb_sha256_buf(key, strlen(key), hex);
	snprintf(name, sizeof name, "%s.%s-%.8s", c->model->name, c->dataset->name, hex);
	pb_path_join(dir, sizeof dir, e->output, "reference");
	struct get_ctx g = { .e = e, .c = c, .ds = ds, .m = m, .ref = pe->desc };
	int rc = pb_reference_cached(dir, name, key, compute, &g, out, err, len);
	free(key);
	return rc;
}
