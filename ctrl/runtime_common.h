/*
 * runtime_common: the pure parts every pod runtime shares (netns and
 * podman): reading a Pod's spec into what the runtime needs, the restart
 * policy and its back-off, the phase a pod is in, and the Pod status
 * object the agent reports through /status.
 *
 * Kept free of side effects so the state machine that decides when a
 * container restarts and what phase the API sees is tested table-driven
 * without namespaces or processes (tests/node/test_runtime.c).
 *
 * Errors: functions return 0 or -1 with a one-line errmsg naming the
 * field. Threading: no shared state; any thread.
 */
#ifndef SLUICE_CTRL_RUNTIME_COMMON_H
#define SLUICE_CTRL_RUNTIME_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define RUNTIME_NAME_MAX 254 /* DNS-1123 subdomain + NUL */
#define RUNTIME_MAX_ARGS 256
#define RUNTIME_MAX_ENV 128

enum runtime_restart {
	RUNTIME_RESTART_ALWAYS = 0, /* Kubernetes' default */
	RUNTIME_RESTART_ON_FAILURE,
	RUNTIME_RESTART_NEVER,
};

/* What the runtime needs of a Pod (decoded and bounded from its JSON). */
struct runtime_pod_spec {
	char ns[RUNTIME_NAME_MAX];
	char name[RUNTIME_NAME_MAX];
	char uid[128];
	char container[64];    /* spec.containers[0].name */
	char image[256];       /* reported back in containerStatuses */
	char working_dir[256]; /* "" = / */
	enum runtime_restart restart;
	unsigned grace_s;      /* terminationGracePeriodSeconds (default 30) */
	size_t argc;
	char **argv;           /* command + args, NULL-terminated, owned */
	size_t envc;
	char **envp;           /* "NAME=value", NULL-terminated, owned */
};

/*
 * Decode pod (a Pod object, borrowed) into *out. The command is
 * spec.containers[0].command followed by its args; there are no images
 * here, so a command is required. 0, or -1 with errmsg naming the field.
 * On success free with runtime_pod_spec_clear().
 */
int runtime_pod_spec_parse(const json_t *pod, struct runtime_pod_spec *out, char *errmsg,
			   size_t len);
void runtime_pod_spec_clear(struct runtime_pod_spec *s);

/* "Always" | "OnFailure" | "Never" | NULL (default Always); -1 if unknown. */
int runtime_restart_parse(const char *s);

/*
 * Container state machine. A container is WAITING before its first start
 * and during a restart back-off, RUNNING while its process lives, and
 * TERMINATED once it exited for good (policy says no restart).
 */
enum runtime_state {
	RUNTIME_WAITING = 0,
	RUNTIME_RUNNING,
	RUNTIME_TERMINATED,
};

enum runtime_phase {
	RUNTIME_PHASE_PENDING = 0,
	RUNTIME_PHASE_RUNNING,
	RUNTIME_PHASE_SUCCEEDED,
	RUNTIME_PHASE_FAILED,
};

const char *runtime_phase_name(enum runtime_phase p);

/* After an exit with status code (128+signal for a signal): restart? */
int runtime_should_restart(enum runtime_restart policy, int exit_code);

/*
 * Delay before restart number n (n >= 1), Kubernetes' CrashLoopBackOff
 * shape: base, 2*base, 4*base ... capped at max. base 0 = 1000 ms,
 * max 0 = 60000 ms.
 */
uint64_t runtime_backoff_ms(unsigned n, uint64_t base_ms, uint64_t max_ms);

/* Everything the API's Pod status reports, filled by a runtime. */
struct runtime_status {
	enum runtime_state state;
	int started;            /* the container ever started */
	int exit_code;          /* last exit (TERMINATED, or during back-off) */
	unsigned restarts;      /* restartCount */
	char reason[64];        /* waiting/terminated reason, e.g. CrashLoopBackOff */
	char message[256];
	char pod_ip[64];        /* "" until the network is set up */
	char host_ip[64];
	char start_time[40];    /* RFC 3339 of the pod's first start attempt */
	char started_at[40];    /* last container start */
	char finished_at[40];   /* last container exit */
};

/* A container that ran this long before exiting restarts without back-off
 * history (Kubernetes resets CrashLoopBackOff after 10 minutes). */
#define RUNTIME_BACKOFF_RESET_MS (10u * 60u * 1000u)

/*
 * The container exited with code after running ran_ms: the restart policy
 * decides. A restart counts in restarts, takes back-off step *crashes
 * (1 again after a run of RUNTIME_BACKOFF_RESET_MS) and leaves st WAITING
 * with reason CrashLoopBackOff; otherwise st is TERMINATED with reason
 * Completed, Error, or OOMKilled when oom_killed. Sets exit_code; leaves
 * the times to the caller. Returns the delay before the restart in ms,
 * or UINT64_MAX when the container stays terminated. Pure.
 */
uint64_t runtime_exited(struct runtime_status *st, enum runtime_restart policy, int code,
			int oom_killed, uint64_t ran_ms, unsigned *crashes, uint64_t base_ms,
			uint64_t max_ms);

/* Phase from the status and the restart policy (pure). */
enum runtime_phase runtime_phase_of(const struct runtime_status *st, enum runtime_restart policy);

/*
 * The Pod status object for PUT .../pods/NAME/status: phase, podIP(s),
 * hostIP, startTime, conditions (PodScheduled, Initialized,
 * ContainersReady, Ready), containerStatuses[0] (name, image, ready,
 * started, restartCount, state). now is RFC 3339 for transition times.
 * Returns a new object, NULL when out of memory.
 */
json_t *runtime_status_json(const struct runtime_pod_spec *spec, const struct runtime_status *st,
			    const char *now);

/*
 * Carry the times over from the status the API holds (old, may be NULL):
 * a condition whose status did not change keeps its lastTransitionTime,
 * and startTime, once reported, never moves. Edits status in place.
 */
void runtime_status_keep_times(json_t *status, const json_t *old);

/* RFC 3339 UTC with microseconds (the API's timestamp form). */
void runtime_now_rfc3339(char *buf, size_t len);

/* CLOCK_MONOTONIC in milliseconds: restart back-off and kill deadlines. */
uint64_t runtime_now_ms(void);

/* Format one log line and hand it to log(data, line), or to stderr when
 * log is NULL: the runtimes' shared log sink. */
void runtime_logf(void (*log)(void *data, const char *line), void *data, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
