/* core/text/dataset.c — prompt datasets: a lines file or JSON lines
 * (jansson), with the sha256 of the file's bytes for the manifest. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "text/text.h"
#include "util/util.h"

static int push(struct pb_dataset *d, int *cap, char *s)
{
	if (d->n == *cap) {
		int nc = *cap ? *cap * 2 : 64;
		char **p = realloc(d->prompts, (size_t)nc * sizeof *p);
		if (!p)
			return -ENOMEM;
		d->prompts = p;
		*cap = nc;
	}
	d->prompts[d->n++] = s;
	return 0;
}

/* One JSON line into a malloc'd prompt, or -EINVAL with the reason. */
static int parse_json_line(const char *path, int lineno, const char *line, size_t n,
			   const char *field, char **out, char *err, size_t len)
{
	json_error_t je;
	json_t *root = json_loadb(line, n, 0, &je);
	if (!root)
		return pb_errf(err, len, -EINVAL, "%s:%d:%d: invalid JSON: %s", path, lineno,
			    je.column, je.text);
	json_t *v = json_is_object(root) ? json_object_get(root, field) : NULL;
	if (!v || !json_is_string(v)) {
		json_decref(root);
		return pb_errf(err, len, -EINVAL,
			    "%s:%d: expected a JSON object with a string field '%s'",
			    path, lineno, field);
	}
	*out = strdup(json_string_value(v));
	json_decref(root);
	return *out ? 0 : -ENOMEM;
}

int pb_dataset_load(const char *path, int jsonl, const char *field, int max_samples,
		    struct pb_dataset **out, char *err, size_t len)
{
	char *buf = NULL;
	size_t size = 0;
	int cap = 0, rc;
	if (!field)
		field = "prompt";
	rc = pb_read_file(path, &buf, &size);
	if (rc < 0)
		return pb_errf(err, len, rc, "%s: cannot read: %s", path, strerror(-rc));
	struct pb_dataset *d = calloc(1, sizeof *d);
	if (!d) {
		rc = -ENOMEM;
		goto out;
	}
	pb_sha256_buf(buf, size, d->sha256);
	int lineno = 0;
	for (size_t pos = 0; pos < size;) {
		if (max_samples > 0 && d->n >= max_samples)
			break;
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', size - pos);
		size_t n = nl ? (size_t)(nl - line) : size - pos;
		pos += n + (nl ? 1 : 0);
		lineno++;
		if (n && line[n - 1] == '\r')
			n--;
		if (!n)
			continue;
		char *prompt = NULL;
		if (jsonl) {
			rc = parse_json_line(path, lineno, line, n, field, &prompt, err, len);
			if (rc < 0)
				goto out;
		} else if (memchr(line, '\0', n)) {
			rc = pb_errf(err, len, -EINVAL, "%s:%d: expected text, found a NUL byte",
				  path, lineno);
			goto out;
		} else {
			prompt = strndup(line, n);
			if (!prompt) {
				rc = -ENOMEM;
				goto out;
			}
		}
		rc = push(d, &cap, prompt);
		if (rc < 0) {
			free(prompt);
			goto out;
		}
	}
	if (!d->n) {
		rc = pb_errf(err, len, -EINVAL, "%s: no prompts (expected %s)", path,
			  jsonl ? "one JSON object per line" : "one prompt per non-empty line");
		goto out;
	}
	*out = d;
	d = NULL;
	rc = 0;
out:
	if (rc == -ENOMEM)
		pb_errf(err, len, rc, "%s: out of memory", path);
	pb_dataset_free(d);
	free(buf);
	return rc;
}

void pb_dataset_free(struct pb_dataset *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n; i++)
		free(d->prompts[i]);
	free(d->prompts);
	free(d);
}
