/* core/run/cell-served.c — a cell that serves its own chain (issue 16,
 * item 3: a backend entry with `serve: true`).
 *
 * The cell loads and compresses the model exactly as an in-process cell
 * does (cell.c, same seed, same calibration), then writes the result as a
 * GGUF in its own folder and serves that file with `prunebench serve` in a
 * child process.  Serving the written model, rather than handing the
 * server the chain with -p, keeps the compression identical: `serve -p`
 * would calibrate on its --data text, not on the dataset's calibration
 * split, and could not read a multi-round cell's kept model.  The server
 * listens on a free port (--port 0, read from its "listening on" line),
 * on 127.0.0.1 or, when the link is shaped (`network:`), on its address
 * inside its own network namespace (netem.h).  Once GET /health answers,
 * the cell's requests go through the `openai` backend exactly as a remote
 * cell's do (cell-remote.c), and the probes sample the server's process
 * (pb_host.pid), not this one.
 *
 * The server is stopped on every path: SIGTERM, SIGKILL after 10 s.  It
 * shares this process's group (the runner's timeout kills the group) and
 * dies with it (PR_SET_PDEATHSIG); a namespace this process cannot remove
 * (SIGKILL) is removed by the runner after the cell (pb_netem_reap).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/modelio.h"
#include "plugin/registry.h"
#include "run/cell-internal.h"
#include "run/cell-probes.h"
#include "run/hostcond.h"
#include "run/netem.h"
#include "util/util.h"

#define STOP_WAIT_MS 10000.0
#define HEALTH_WAIT_MS 30000.0
#define MAX_ARGS 96
#define ARG_LEN (PATH_MAX + 512)

struct served {
	pid_t pid;                 /* 0: not started */
	int out_fd;                /* the server's stdout */
	int hold_fd;               /* a byte here lets the child exec */
	struct pb_netns ns;
	int shaped;
	char gguf[PATH_MAX + 512]; /* the model served */
	int gguf_ours;             /* written here: removed at the end */
	char host[32];
	int port;
};

/* The server's argv; strings in store. */
static int server_argv(const struct pb_cell_ctx *x, const struct served *s, int ctx,
		       char (*store)[ARG_LEN], char *argv[MAX_ARGS + 1])
{
	const struct pb_step *st = &x->c->backend->step;
	const struct pb_plugin *p = st->plugin->desc;
	int n = 0;
	ssize_t len = readlink("/proc/self/exe", store[n], sizeof store[0] - 1);
	if (len <= 0)
		return -errno;
	store[n++][len] = '\0';
#define ARG(...) snprintf(store[n++], sizeof store[0], __VA_ARGS__)
	ARG("serve");
	ARG("%s", s->gguf);
	ARG("--backend");
	ARG("%s", p->name);
	for (const struct pb_option *o = p->options; o && o->key && n + 8 < MAX_ARGS; o++) {
		char val[PB_OPT_STR_MAX + 8];
		if (pb_option_format(o, st->config, val, sizeof val) < 0 ||
		    (o->type == PB_OPT_STRING && !val[0]))
			continue;
		ARG("-o");
		ARG("%s=%s", o->key, val);
	}
	ARG("--host");
	ARG("%s", s->host);
	ARG("--port");
	ARG("0");
	ARG("--ctx");
	ARG("%d", ctx);
	ARG("--seed");
	ARG("%llu", (unsigned long long)x->e->seed);
	if (x->c->model->tokenizer_pre[0]) {
		ARG("--tokenizer-pre");
		ARG("%s", x->c->model->tokenizer_pre);
	}
#undef ARG
	for (int i = 0; i < n; i++)
		argv[i] = store[i];
	argv[n] = NULL;
	return n;
}

/* Fork the server, held before exec until server_release(): its pid is
 * known before it starts, so the probes watch its load too. */
static int server_fork(struct served *s, char *const argv[])
{
	int out[2], hold[2];
	char line[2048] = "";
	size_t k = 0;
	for (int i = 0; argv[i] && k + 2 < sizeof line; i++)
		k += (size_t)snprintf(line + k, sizeof line - k, "%s%s", i ? " " : "", argv[i]);
	pb_log(PB_LOG_INFO, "server: %s%s%s", s->shaped ? "(in namespace " : "",
	       s->shaped ? s->ns.ns : "", s->shaped ? ") " : "");
	pb_log(PB_LOG_INFO, "server: %s", line);
	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(hold, O_CLOEXEC) < 0) {
		int e = -errno;
		close(out[0]);
		close(out[1]);
		return e;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(out[0]); close(out[1]); close(hold[0]); close(hold[1]);
		return e;
	}
	if (pid == 0) {
		char b;
		sigset_t none;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		close(hold[1]);
		close(out[0]);
		if (read(hold[0], &b, 1) != 1)
			_exit(125);   /* the cell gave up before releasing us */
		if (s->shaped && pb_netns_enter(&s->ns) < 0) {
			dprintf(2, "server: cannot enter namespace %s: %s\n", s->ns.ns, strerror(errno));
			_exit(124);
		}
		if (dup2(out[1], 1) < 0)
			_exit(123);
		execv(argv[0], argv);
		dprintf(2, "server: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(hold[0]);
	s->pid = pid;
	s->out_fd = out[0];
	s->hold_fd = hold[1];
	return 0;
}

static void server_release(struct served *s)
{
	if (s->hold_fd >= 0) {
		if (write(s->hold_fd, "g", 1) != 1)
			pb_log(PB_LOG_WARN, "server: cannot release the child: %s", strerror(errno));
		close(s->hold_fd);
		s->hold_fd = -1;
	}
}

static void say_exit(const char *what, int status)
{
	if (WIFEXITED(status))
		pb_log(PB_LOG_INFO, "server: %s, status %d", what, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		pb_log(PB_LOG_INFO, "server: %s, signal %d (%s)", what, WTERMSIG(status),
		       strsignal(WTERMSIG(status)));
}

/* SIGTERM, then SIGKILL after STOP_WAIT_MS; never returns with it alive. */
static void server_stop(struct served *s)
{
	if (s->hold_fd >= 0) {   /* never released: it has not exec'd */
		close(s->hold_fd);
		s->hold_fd = -1;
	}
	if (s->pid > 0) {
		int status = 0;
		pid_t w;
		kill(s->pid, SIGTERM);
		double t0 = pb_now_ms();
		while ((w = waitpid(s->pid, &status, WNOHANG)) == 0 && pb_now_ms() - t0 < STOP_WAIT_MS)
			usleep(20000);
		if (w == 0) {
			pb_log(PB_LOG_WARN, "server: still running %.0f s after SIGTERM; SIGKILL",
			       STOP_WAIT_MS / 1e3);
			kill(s->pid, SIGKILL);
			while ((w = waitpid(s->pid, &status, 0)) < 0 && errno == EINTR)
				;
		}
		if (w == s->pid)
			say_exit("stopped", status);
		s->pid = 0;
	}
	if (s->out_fd >= 0)
		close(s->out_fd);
	s->out_fd = -1;
	if (s->shaped)
		pb_netem_teardown(&s->ns);
	if (s->gguf_ours && s->gguf[0])
		unlink(s->gguf);
	s->gguf_ours = 0;
}

/* The "listening on http://H:P" line; -ETIMEDOUT, or -ECHILD when the
 * server exited first. */
static int server_wait_listening(struct served *s, double deadline_ms, char *why, size_t len)
{
	char buf[512];
	size_t got = 0;
	for (;;) {
		int status;
		struct pollfd p = { .fd = s->out_fd, .events = POLLIN };
		int r = poll(&p, 1, 100);
		if (r > 0) {
			ssize_t n = read(s->out_fd, buf + got, sizeof buf - 1 - got);
			if (n > 0) {
				got += (size_t)n;
				buf[got] = '\0';
				char *nl = strchr(buf, '\n');
				if (nl) {
					*nl = '\0';
					char *at = strstr(buf, "listening on http://");
					char *colon = at ? strrchr(at + 20, ':') : NULL;
					if (!colon || (s->port = atoi(colon + 1)) <= 0) {
						snprintf(why, len, "server said '%s', not 'listening on "
							 "http://HOST:PORT'", buf);
						return -EPROTO;
					}
					return 0;
				}
				if (got == sizeof buf - 1) {
					snprintf(why, len, "server's first line is too long");
					return -EPROTO;
				}
				continue;
			}
		}
		pid_t w = waitpid(s->pid, &status, WNOHANG);
		if (w == s->pid) {
			s->pid = 0;
			if (WIFEXITED(status))
				snprintf(why, len, "the server exited with status %d before listening "
					 "(its log is above)", WEXITSTATUS(status));
			else
				snprintf(why, len, "the server died of signal %d before listening",
					 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
			return -ECHILD;
		}
		if (pb_now_ms() > deadline_ms) {
			snprintf(why, len, "the server did not say where it listens in time");
			return -ETIMEDOUT;
		}
	}
}

/* One GET /health over HTTP/1.0: 0 when it answered 200. */
static int health_once(const char *host, int port, int timeout_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char buf[256];
	int fd, rc = -EIO;
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -EINVAL;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS)
		goto out;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	if (poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 ||
	    soerr)
		goto out;
	static const char req[] = "GET /health HTTP/1.0\r\nHost: prunebench\r\n\r\n";
	if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
		goto out;
	size_t got = 0;
	p.events = POLLIN;
	while (got < sizeof buf - 1 && poll(&p, 1, timeout_ms) == 1) {
		ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		if (strchr(buf, '\n'))
			break;
	}
	buf[got] = '\0';
	if (!strncmp(buf, "HTTP/1.", 7) && !strncmp(buf + 8, " 200", 4))
		rc = 0;
out:
	close(fd);
	return rc;
}

static int server_wait_health(struct served *s, double deadline_ms, char *why, size_t len)
{
	for (;;) {
		if (health_once(s->host, s->port, 1000) == 0)
			return 0;
		int status;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			snprintf(why, len, "the server exited before GET /health answered");
			return -ECHILD;
		}
		if (pb_now_ms() > deadline_ms) {
			snprintf(why, len, "GET http://%s:%d/health did not answer 200 within %.0f s",
				 s->host, s->port, HEALTH_WAIT_MS / 1e3);
			return -ETIMEDOUT;
		}
		usleep(50000);
	}
}

/* The `openai` backend's configuration for url. */
static int client_config(const struct pb_experiment *e, const char *url,
			 const struct pb_plugin **out, void **config)
{
	char msg[512];
	const struct pb_plugin_entry *pe = e->registry ?
		pb_registry_find(e->registry, PB_BACKEND, "openai") : NULL;
	*config = NULL;
	if (!pe) {
		pb_log(PB_LOG_ERROR, "a served cell measures its server through the 'openai' "
		       "backend, which is not found (it is built with libcurl)");
		return -ENOENT;
	}
	const struct pb_plugin *p = pe->desc;
	void *cfg = calloc(1, p->config_size ? p->config_size : 1);
	if (!cfg)
		return -ENOMEM;
	static const char *const keys[] = { "url", "ignore_eos" };
	const char *vals[] = { url, "true" };   /* every request makes max_new_tokens */
	if (pb_options_defaults(p->options, cfg, p->config_size) < 0)
		goto bad;
	for (int i = 0; i < 2; i++) {
		const struct pb_option *o = pb_option_find(p->options, keys[i]);
		if (!o || pb_option_parse(o, cfg, vals[i], msg, sizeof msg) < 0) {
			pb_log(PB_LOG_ERROR, "openai backend: option '%s': %s", keys[i],
			       o ? msg : "missing");
			goto bad;
		}
	}
	*out = p;
	*config = cfg;
	return 0;
bad:
	free(cfg);
	return -EINVAL;
}

int pb_cell_served_run(struct pb_cell_ctx *x, struct pb_cell_record *rec, struct pb_model **m,
		       struct pb_model **kept, const struct pb_cell_job *job,
		       struct pb_host_ctx *probe_hosts, struct pb_probe_inst *probe_inst,
		       void **probe_states)
{
	const struct pb_experiment *e = x->e;
	const struct pb_cell *c = x->c;
	const struct pb_link *link = &c->backend->network;
	struct served s = { .out_fd = -1, .hold_fd = -1 };
	char (*store)[ARG_LEN] = calloc(MAX_ARGS, sizeof *store), *argv[MAX_ARGS + 1];
	char err[1024], why[1024], url[96];
	const struct pb_plugin *client = NULL;
	void *ccfg = NULL;
	int rc = -1, n;

	pb_sayf(rec->accuracy_note, sizeof rec->accuracy_note, "perplexity, top-1 agreement and "
		"KL: unavailable: served cell (its model runs in the server, measured through "
		"the network; the same chain's in-process cell scores them); exact match, token "
		"F1 and ROUGE-L score the returned text");
	/* the model the server loads: the rounds' kept GGUF, else this
	 * cell's compressed model written here */
	if (job->compressed[0]) {
		snprintf(s.gguf, sizeof s.gguf, "%s", job->compressed);
	} else {
		snprintf(s.gguf, sizeof s.gguf, "%s/served.gguf", x->dir);
		double t0 = pb_now_ms();
		if (pb_gguf_write(*m, s.gguf, err, sizeof err) < 0) {
			pb_log(PB_LOG_ERROR, "writing the model to serve: %s", err);
			unlink(s.gguf);
			goto out;
		}
		s.gguf_ours = 1;
		pb_log(PB_LOG_INFO, "served model written to %s in %.1f ms", s.gguf,
		       pb_now_ms() - t0);
	}
	int ctx = (*m)->hp.ctx;
	/* the server holds the model: this process lets its copy go */
	pb_model_free(*m);
	*m = NULL;
	pb_model_free(*kept);
	*kept = NULL;

	if (!pb_link_is_loopback(link)) {
		pb_netns_names(&s.ns, (long)getpid());
		pb_log(PB_LOG_INFO, "network '%s': delay %g ms, jitter %g ms, loss %g %%, rate %g "
		       "Mbit/s, each direction (netem on both veth ends)", link->name, link->delay_ms,
		       link->jitter_ms, link->loss_pct, link->rate_mbit);
		if (pb_netem_setup(&s.ns, link, why, sizeof why) < 0) {
			pb_log(PB_LOG_ERROR, "network '%s': %s", link->name, why);
			goto out;
		}
		s.shaped = 1;
		snprintf(s.host, sizeof s.host, "%s", s.ns.addr_ns);
	} else {
		snprintf(s.host, sizeof s.host, "127.0.0.1");
	}
	if (!store) {
		pb_log(PB_LOG_ERROR, "out of memory");
		goto out;
	}
	if ((n = server_argv(x, &s, ctx, store, argv)) < 0) {
		pb_log(PB_LOG_ERROR, "server: cannot find this program (/proc/self/exe): %s",
		       strerror(-n));
		goto out;
	}
	if ((rc = server_fork(&s, argv)) < 0) {
		pb_log(PB_LOG_ERROR, "server: cannot start it: %s", strerror(-rc));
		rc = -1;
		goto out;
	}
	rc = -1;

	/* the probes sample the server from its first instruction on */
	pb_cell_probe_pid = s.pid;
	pb_hostcond_also_pid = s.pid;
	int n_probes = pb_cell_start_probes(e, rec, probe_hosts, probe_inst, probe_states);
	if (pb_sampler_start(&x->sampler, probe_inst, n_probes, PB_PHASE_LOAD) < 0) {
		pb_log(PB_LOG_ERROR, "cannot start the probe sampler");
		goto out;
	}
	pb_log_first_error_rearm();
	pb_cell_set_phase(x, PB_PHASE_LOAD);
	double t0 = pb_now_ms();
	server_release(&s);
	if (server_wait_listening(&s, t0 + e->timeout_s * 1e3, why, sizeof why) < 0 ||
	    server_wait_health(&s, pb_now_ms() + HEALTH_WAIT_MS, why, sizeof why) < 0) {
		pb_log(PB_LOG_ERROR, "server: %s", why);
		goto out;
	}
	rec->weights_load_ms = pb_now_ms() - t0;
	snprintf(url, sizeof url, "http://%s:%d", s.host, s.port);
	pb_log(PB_LOG_INFO, "server %d ready at %s in %.1f ms (GET /health: 200)", (int)s.pid, url,
	       rec->weights_load_ms);
	if (client_config(e, url, &client, &ccfg) < 0)
		goto out;
	rc = pb_cell_remote_requests(x, rec, probe_states, client, ccfg) < 0 ? -1 : 0;
out:
	server_stop(&s);
	free(store);
	free(ccfg);
	return rc;
}
