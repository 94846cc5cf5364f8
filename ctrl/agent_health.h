/*
 * agent_health: the node agent's health checks of service backends (issue
 * #7). Each probe is a TCP connect or an HTTP GET (libcurl) to one backend,
 * repeated every interval; `fall` consecutive failures make the backend
 * unhealthy, `rise` consecutive successes healthy again, and each
 * transition is reported once through the callback (the agent then sets
 * the backend's weight in dp to 0, or back; ctrl/agent_lb.c).
 *
 * Everything is non-blocking: agent_health_tick() starts the probes that
 * are due, completes the ones that finished and times out the rest, so the
 * agent's single loop never waits on a backend. A probe's outcome is only
 * "answered in time" (TCP: the handshake completed; HTTP: a status in
 * 200..399) or not.
 *
 * Errors: enum agent_err (agent.h). Threading: the agent's thread.
 */
#ifndef SLUICE_CTRL_AGENT_HEALTH_H
#define SLUICE_CTRL_AGENT_HEALTH_H

#include <stddef.h>
#include <stdint.h>

enum agent_health_type {
	AGENT_HEALTH_NONE = 0,
	AGENT_HEALTH_TCP = 1,
	AGENT_HEALTH_HTTP = 2,
};

#define AGENT_HEALTH_PATH_MAX 128

struct agent_health_cfg {
	uint8_t type;          /* enum agent_health_type */
	uint32_t interval_ms;  /* 50..60000 */
	uint32_t timeout_ms;   /* 10..60000, <= interval */
	uint32_t fall, rise;   /* 1..100 */
	char path[AGENT_HEALTH_PATH_MAX]; /* HTTP: starts with '/' */
};

/* Validate cfg; 0 or -1 with a one-line reason naming the field. */
int agent_health_cfg_check(const struct agent_health_cfg *cfg, char *errmsg, size_t len);
/* "none", "tcp", "http" <-> type; -1 if unknown. */
int agent_health_type_parse(const char *s);
const char *agent_health_type_name(unsigned type);

struct agent_health_params {
	/* Called on each transition: healthy 1 or 0. */
	void (*on_change)(void *data, uint32_t svc_id, uint32_t backend_id, int healthy);
	void *data;
};

struct agent_health;

struct agent_health *agent_health_create(const struct agent_health_params *p);
void agent_health_free(struct agent_health *h);

/*
 * Probe backend (svc_id, backend_id) at ip (IPv4, network order):port
 * (host order) with cfg (copied). Replaces an existing probe of that pair
 * (its state is kept if the target and cfg are unchanged). A new probe
 * starts healthy-unknown: the first `fall` failures or `rise` successes
 * decide. Returns AGENT_OK, AGENT_INVAL or AGENT_NOMEM.
 */
int agent_health_watch(struct agent_health *h, uint32_t svc_id, uint32_t backend_id,
		       uint32_t ip, uint16_t port, const struct agent_health_cfg *cfg);
/* Stop probing one backend, or (backend_id 0) every backend of svc_id. */
void agent_health_unwatch(struct agent_health *h, uint32_t svc_id, uint32_t backend_id);

/* Current verdict: 1 healthy, 0 unhealthy, -1 not decided or not watched. */
int agent_health_state(const struct agent_health *h, uint32_t svc_id, uint32_t backend_id);

/* Drive the probes; now_ms is a monotonic clock. Never blocks. Returns the
 * number of transitions reported. */
unsigned agent_health_tick(struct agent_health *h, uint64_t now_ms);

#endif
