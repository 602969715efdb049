/* core/experiment/network.c — the `network:` setting of a served cell
 * (issue 16, item 5): named link presets and the parser of a preset name
 * or a {delay_ms, jitter_ms, loss_pct, rate_mbit} mapping.
 *
 * The figures of a preset apply to each direction of the link (netem on
 * both veth ends, core/run/netem.c).  Sources, so that a reader can judge
 * them (README "Emulated links"):
 *  - wifi: Chrome DevTools' former "WiFi" throttling preset, 2 ms of
 *    added latency and 30 Mbit/s down (1 ms each way here);
 *  - lte:  WebPageTest's "LTE" connectivity profile, 12 Mbit/s and a
 *    70 ms round trip (35 ms each way);
 *  - 3g:   WebPageTest's "3G" profile, 1.6 Mbit/s down and a 300 ms
 *    round trip (150 ms each way; its 768 kbit/s uplink is not modelled:
 *    one rate serves both directions).
 * None of them adds loss or jitter: neither source does.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "xp.h"

const struct pb_link_preset pb_link_presets[] = {
	{ "loopback", { "loopback", 0, 0, 0, 0 }, "no emulation: 127.0.0.1" },
	{ "wifi", { "wifi", 1, 0, 0, 30 },
	  "Chrome DevTools' former 'WiFi' preset: 2 ms added latency, 30 Mbit/s" },
	{ "lte", { "lte", 35, 0, 0, 12 }, "WebPageTest 'LTE': 12 Mbit/s, 70 ms RTT" },
	{ "3g", { "3g", 150, 0, 0, 1.6 }, "WebPageTest '3G': 1.6 Mbit/s down, 300 ms RTT" },
	{ NULL, { "", 0, 0, 0, 0 }, NULL },
};

const struct pb_link_preset *pb_link_preset_find(const char *name)
{
	for (const struct pb_link_preset *p = pb_link_presets; p->name; p++)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

int pb_link_is_loopback(const struct pb_link *l)
{
	return l->delay_ms == 0 && l->jitter_ms == 0 && l->loss_pct == 0 && l->rate_mbit == 0;
}

static int preset(struct xctx *c, const struct xnode *n, struct pb_link *out)
{
	const struct pb_link_preset *p = pb_link_preset_find(n->text);
	if (p) {
		*out = p->link;
		return 0;
	}
	const char *names[8];
	int k = 0;
	for (const struct pb_link_preset *q = pb_link_presets; q->name && k < 8; q++)
		names[k++] = q->name;
	char dym[160];
	return xerr(c, n, "network: unknown preset '%s'%s; the presets are loopback, wifi, lte "
		    "and 3g, or give {delay_ms, jitter_ms, loss_pct, rate_mbit}", n->text,
		    xp_dym(dym, sizeof dym, n->text, names, k));
}

int xp_parse_link(struct xctx *c, const struct xnode *n, struct pb_link *out)
{
	static const struct { const char *key; size_t off; double max; } keys[] = {
		{ "delay_ms", offsetof(struct pb_link, delay_ms), 60000 },
		{ "jitter_ms", offsetof(struct pb_link, jitter_ms), 60000 },
		{ "loss_pct", offsetof(struct pb_link, loss_pct), 100 },
		{ "rate_mbit", offsetof(struct pb_link, rate_mbit), 100000 },
	};
	memset(out, 0, sizeof *out);
	if (n->kind == XN_SCALAR && !xn_is_null(n))
		return preset(c, n, out);
	if (n->kind != XN_MAP)
		return xerr(c, n, "network: expected a preset name (loopback, wifi, lte, 3g) or a "
			    "mapping {delay_ms, jitter_ms, loss_pct, rate_mbit}, got %s",
			    xn_kind_name(n));
	snprintf(out->name, sizeof out->name, "custom");
	for (int i = 0; i < n->n; i++) {
		const struct xnode *k = n->keys[i], *v = n->vals[i];
		size_t j;
		for (j = 0; j < sizeof keys / sizeof keys[0]; j++)
			if (!strcmp(k->text, keys[j].key))
				break;
		if (j == sizeof keys / sizeof keys[0]) {
			const char *cands[] = { "delay_ms", "jitter_ms", "loss_pct", "rate_mbit" };
			char dym[160];
			return xerr(c, k, "network: unknown key '%s'%s", k->text,
				    xp_dym(dym, sizeof dym, k->text, cands, 4));
		}
		int ret = xp_scalar(c, v, keys[j].key);
		if (ret < 0)
			return ret;
		char *end;
		double x = strtod(v->text, &end);
		if (end == v->text || *end || !isfinite(x) || x < 0 || x > keys[j].max)
			return xerr(c, v, "network: '%s' must be a number from 0 to %g, got '%s'",
				    keys[j].key, keys[j].max, v->text);
		memcpy((char *)out + keys[j].off, &x, sizeof x);
	}
	if (out->jitter_ms > 0 && out->delay_ms == 0)
		return xerr(c, n, "network: jitter_ms needs a delay_ms to vary around");
	if (out->jitter_ms > out->delay_ms)
		return xerr(c, n, "network: jitter_ms (%g) is larger than delay_ms (%g); netem would "
			    "clip delays at 0", out->jitter_ms, out->delay_ms);
	if (pb_link_is_loopback(out))
		snprintf(out->name, sizeof out->name, "loopback");
	return 0;
}
