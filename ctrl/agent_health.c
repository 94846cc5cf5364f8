/*
 * agent_health: TCP and HTTP probes of service backends (agent_health.h).
 *
 * TCP: a non-blocking connect(); the probe succeeds when the socket turns
 * writable with SO_ERROR 0 before the timeout. HTTP: one libcurl easy
 * handle per probe in a multi handle, driven with curl_multi_perform() on
 * every tick (CURLOPT_TIMEOUT_MS bounds it); any status 200..399 passes.
 * Probes are a plain array: a node has tens to a few thousand backends and
 * a tick touches only the ones in flight or due.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include <sluice/errmsg.h>

#include "agent.h"
#include "agent_health.h"

struct agent_probe {
	uint32_t svc_id, backend_id;
	uint32_t ip;
	uint16_t port;
	struct agent_health_cfg cfg;
	int state;        /* 1, 0, -1 undecided */
	uint32_t ok_run, fail_run;
	uint64_t next_ms; /* next start */
	uint64_t deadline_ms;
	int fd;           /* TCP in flight, else -1 */
	CURL *easy;       /* HTTP in flight, else NULL */
};

struct agent_health {
	struct agent_health_params p;
	CURLM *multi;
	struct agent_probe *probes;
	size_t n, cap;
	unsigned changes;
};

static const char *const agent_health_names[] = { "none", "tcp", "http" };

int agent_health_type_parse(const char *s)
{
	for (unsigned i = 0; i < 3; i++)
		if (strcmp(s, agent_health_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *agent_health_type_name(unsigned type)
{
	return type < 3 ? agent_health_names[type] : "?";
}

int agent_health_cfg_check(const struct agent_health_cfg *c, char *errmsg, size_t len)
{
	if (c->type > AGENT_HEALTH_HTTP)
		return sluice_errf(-1, errmsg, len, "health.type: none, tcp or http");
	if (c->type == AGENT_HEALTH_NONE)
		return 0;
	if (c->interval_ms < 50 || c->interval_ms > 60000)
		return sluice_errf(-1, errmsg, len, "health.interval_ms: 50..60000");
	if (c->timeout_ms < 10 || c->timeout_ms > c->interval_ms)
		return sluice_errf(-1, errmsg, len, "health.timeout_ms: 10..interval_ms");
	if (c->fall < 1 || c->fall > 100 || c->rise < 1 || c->rise > 100)
		return sluice_errf(-1, errmsg, len, "health.fall and health.rise: 1..100");
	if (c->type == AGENT_HEALTH_HTTP) {
		if (c->path[0] != '/' || memchr(c->path, '\0', sizeof(c->path)) == NULL)
			return sluice_errf(-1, errmsg, len, "health.path: must start with '/' (< 128 bytes)");
		for (const char *s = c->path; *s; s++)
			if (*s <= ' ' || *s == 0x7f)
				return sluice_errf(-1, errmsg, len, "health.path: no spaces or control characters");
	}
	return 0;
}

struct agent_health *agent_health_create(const struct agent_health_params *p)
{
	struct agent_health *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->p = *p;
	/* curl_global_init is not thread-safe before 7.84; the agent is one
	 * thread and calls this once at start. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	h->multi = curl_multi_init();
	if (h->multi == NULL) {
		free(h);
		return NULL;
	}
	return h;
}

static void agent_probe_stop(struct agent_health *h, struct agent_probe *pr)
{
	if (pr->fd >= 0) {
		close(pr->fd);
		pr->fd = -1;
	}
	if (pr->easy != NULL) {
		curl_multi_remove_handle(h->multi, pr->easy);
		curl_easy_cleanup(pr->easy);
		pr->easy = NULL;
	}
}

void agent_health_free(struct agent_health *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++)
		agent_probe_stop(h, &h->probes[i]);
	free(h->probes);
	curl_multi_cleanup(h->multi);
	free(h);
}

static struct agent_probe *agent_probe_find(const struct agent_health *h, uint32_t svc_id,
					    uint32_t backend_id)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->probes[i].svc_id == svc_id && h->probes[i].backend_id == backend_id)
			return &h->probes[i];
	return NULL;
}

int agent_health_watch(struct agent_health *h, uint32_t svc_id, uint32_t backend_id,
		       uint32_t ip, uint16_t port, const struct agent_health_cfg *cfg)
{
	struct agent_probe *pr = agent_probe_find(h, svc_id, backend_id);

	if (agent_health_cfg_check(cfg, NULL, 0) != 0 || cfg->type == AGENT_HEALTH_NONE ||
	    port == 0 || ip == 0)
		return AGENT_INVAL;
	if (pr != NULL) {
		if (pr->ip == ip && pr->port == port && memcmp(&pr->cfg, cfg, sizeof(*cfg)) == 0)
			return AGENT_OK;
		agent_probe_stop(h, pr);
	} else {
		if (h->n == h->cap) {
			size_t nc = h->cap ? h->cap * 2 : 16;
			struct agent_probe *np = realloc(h->probes, nc * sizeof(*np));
			if (np == NULL)
				return AGENT_NOMEM;
			h->probes = np;
			h->cap = nc;
		}
		pr = &h->probes[h->n++];
	}
	memset(pr, 0, sizeof(*pr));
	pr->svc_id = svc_id;
	pr->backend_id = backend_id;
	pr->ip = ip;
	pr->port = port;
	pr->cfg = *cfg;
	pr->state = -1;
	pr->fd = -1;
	return AGENT_OK;
}

void agent_health_unwatch(struct agent_health *h, uint32_t svc_id, uint32_t backend_id)
{
	for (size_t i = 0; i < h->n;) {
		struct agent_probe *pr = &h->probes[i];
		if (pr->svc_id == svc_id && (backend_id == 0 || pr->backend_id == backend_id)) {
			agent_probe_stop(h, pr);
			*pr = h->probes[--h->n];
		} else {
			i++;
		}
	}
}

int agent_health_state(const struct agent_health *h, uint32_t svc_id, uint32_t backend_id)
{
	const struct agent_probe *pr = agent_probe_find(h, svc_id, backend_id);
	return pr ? pr->state : -1;
}

/* One probe ended: count it, report a transition. */
static void agent_probe_done(struct agent_health *h, struct agent_probe *pr, int ok,
			     uint64_t now)
{
	agent_probe_stop(h, pr);
	pr->next_ms = now + pr->cfg.interval_ms;
	if (ok) {
		pr->fail_run = 0;
		pr->ok_run++;
		if (pr->state != 1 && pr->ok_run >= pr->cfg.rise) {
			pr->state = 1;
			h->changes++;
			if (h->p.on_change)
				h->p.on_change(h->p.data, pr->svc_id, pr->backend_id, 1);
		}
	} else {
		pr->ok_run = 0;
		pr->fail_run++;
		if (pr->state != 0 && pr->fail_run >= pr->cfg.fall) {
			pr->state = 0;
			h->changes++;
			if (h->p.on_change)
				h->p.on_change(h->p.data, pr->svc_id, pr->backend_id, 0);
		}
	}
}

static size_t agent_health_sink(char *p, size_t size, size_t n, void *data)
{
	(void)p;
	(void)data;
	return size * n;
}

static int agent_probe_start(struct agent_health *h, struct agent_probe *pr, uint64_t now)
{
	pr->deadline_ms = now + pr->cfg.timeout_ms;
	if (pr->cfg.type == AGENT_HEALTH_TCP) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(pr->port) };
		sa.sin_addr.s_addr = pr->ip;
		pr->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (pr->fd < 0)
			return -1;
		if (connect(pr->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 1; /* done at once (loopback) */
		return errno == EINPROGRESS ? 0 : -1;
	}
	char url[256], ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &pr->ip, ip, sizeof(ip));
	snprintf(url, sizeof(url), "http://%s:%u%s", ip, pr->port, pr->cfg.path);
	pr->easy = curl_easy_init();
	if (pr->easy == NULL)
		return -1;
	curl_easy_setopt(pr->easy, CURLOPT_URL, url);
	curl_easy_setopt(pr->easy, CURLOPT_TIMEOUT_MS, (long)pr->cfg.timeout_ms);
	curl_easy_setopt(pr->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(pr->easy, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(pr->easy, CURLOPT_PROXY, ""); /* never an environment proxy */
	/* discard the body: the status is the verdict */
	curl_easy_setopt(pr->easy, CURLOPT_WRITEFUNCTION, agent_health_sink);
	if (curl_multi_add_handle(h->multi, pr->easy) != CURLM_OK)
		return -1;
	return 0;
}

unsigned agent_health_tick(struct agent_health *h, uint64_t now)
{
	unsigned before = h->changes;
	int running = 0, left = 0;
	CURLMsg *msg;

	for (size_t i = 0; i < h->n; i++) {
		struct agent_probe *pr = &h->probes[i];
		if (pr->fd < 0 && pr->easy == NULL && now >= pr->next_ms) {
			int r = agent_probe_start(h, pr, now);
			if (r != 0)
				agent_probe_done(h, pr, r > 0, now);
			continue;
		}
		if (pr->fd >= 0) {
			struct pollfd pfd = { .fd = pr->fd, .events = POLLOUT };
			if (poll(&pfd, 1, 0) > 0) {
				int err = 0;
				socklen_t el = sizeof(err);
				getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				agent_probe_done(h, pr, err == 0, now);
			} else if (now >= pr->deadline_ms) {
				agent_probe_done(h, pr, 0, now);
			}
		}
	}
	if (h->n > 0)
		curl_multi_perform(h->multi, &running);
	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct agent_probe *pr = NULL;
		long code = 0;
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* by handle, not CURLOPT_PRIVATE: the probe array may have moved */
		for (size_t i = 0; i < h->n && pr == NULL; i++)
			if (h->probes[i].easy == msg->easy_handle)
				pr = &h->probes[i];
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
		if (pr != NULL)
			agent_probe_done(h, pr, msg->data.result == CURLE_OK && code >= 200 && code < 400,
					 now);
	}
	return h->changes - before;
}
