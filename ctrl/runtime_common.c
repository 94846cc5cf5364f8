/*
 * runtime_common: pod spec decoding, restart policy, back-off, phase and
 * the status object (ctrl/runtime_common.h).
 *
 * The phase follows the Pod lifecycle of Kubernetes: Pending until the
 * container first starts; Running while it runs *or* waits to be
 * restarted (a crash-looping pod under restartPolicy Always is Running,
 * not Failed); Succeeded or Failed only when the policy says it will never
 * run again, by its last exit code.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/errmsg.h>

#include "runtime_common.h"

int runtime_restart_parse(const char *s)
{
	if (s == NULL || strcmp(s, "Always") == 0)
		return RUNTIME_RESTART_ALWAYS;
	if (strcmp(s, "OnFailure") == 0)
		return RUNTIME_RESTART_ON_FAILURE;
	if (strcmp(s, "Never") == 0)
		return RUNTIME_RESTART_NEVER;
	return -1;
}

void runtime_pod_spec_clear(struct runtime_pod_spec *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; s->argv && i < s->argc; i++)
		free(s->argv[i]);
	for (size_t i = 0; s->envp && i < s->envc; i++)
		free(s->envp[i]);
	free(s->argv);
	free(s->envp);
	s->argv = s->envp = NULL;
	s->argc = s->envc = 0;
}

/* Copy a bounded string field; -1 when missing (if required) or too long. */
static int runtime_str(const json_t *o, const char *key, int required, char *dst, size_t cap)
{
	json_t *v = json_object_get(o, key);
	if (v == NULL || json_is_null(v)) {
		dst[0] = '\0';
		return required ? -1 : 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1; /* wrong type, too long, or an embedded NUL */
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* Append the strings of array arr (may be NULL) to s->argv. */
static int runtime_add_args(struct runtime_pod_spec *s, const json_t *arr)
{
	size_t i;
	json_t *v;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return -1;
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || s->argc + 1 >= RUNTIME_MAX_ARGS ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return -1;
		if ((s->argv[s->argc] = strdup(json_string_value(v))) == NULL)
			return -1;
		s->argc++;
	}
	return 0;
}

int runtime_pod_spec_parse(const json_t *pod, struct runtime_pod_spec *out, char *errmsg,
			   size_t len)
{
	const json_t *meta = json_object_get(pod, "metadata");
	const json_t *spec = json_object_get(pod, "spec");
	const json_t *ct = json_array_get(json_object_get(spec, "containers"), 0);
	json_t *v;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(meta) || runtime_str(meta, "name", 1, out->name, sizeof(out->name)) != 0)
		return sluice_errf(-1, errmsg, len, "pod: metadata.name missing or too long");
	if (runtime_str(meta, "namespace", 0, out->ns, sizeof(out->ns)) != 0)
		return sluice_errf(-1, errmsg, len, "pod %s: metadata.namespace is not a short string",
				   out->name);
	if (out->ns[0] == '\0')
		snprintf(out->ns, sizeof(out->ns), "default");
	if (runtime_str(meta, "uid", 1, out->uid, sizeof(out->uid)) != 0 || out->uid[0] == '\0')
		return sluice_errf(-1, errmsg, len, "pod %s/%s: metadata.uid missing", out->ns, out->name);
	if (!json_is_object(ct))
		return sluice_errf(-1, errmsg, len, "pod %s/%s: spec.containers[0] missing", out->ns,
				   out->name);
	if (runtime_str(ct, "name", 1, out->container, sizeof(out->container)) != 0)
		return sluice_errf(-1, errmsg, len, "pod %s/%s: spec.containers[0].name missing or too long",
				   out->ns, out->name);
	if (runtime_str(ct, "image", 0, out->image, sizeof(out->image)) != 0 ||
	    runtime_str(ct, "workingDir", 0, out->working_dir, sizeof(out->working_dir)) != 0)
		return sluice_errf(-1, errmsg, len,
				   "pod %s/%s: spec.containers[0].image or workingDir too long", out->ns,
				   out->name);
	int rp = runtime_restart_parse(json_string_value(json_object_get(spec, "restartPolicy")));
	if (rp < 0 || (json_object_get(spec, "restartPolicy") &&
		       !json_is_string(json_object_get(spec, "restartPolicy"))))
		return sluice_errf(-1, errmsg, len,
				   "pod %s/%s: spec.restartPolicy must be Always, OnFailure or Never",
				   out->ns, out->name);
	out->restart = (enum runtime_restart)rp;
	out->grace_s = 30;
	v = json_object_get(spec, "terminationGracePeriodSeconds");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return sluice_errf(-1, errmsg, len,
					   "pod %s/%s: spec.terminationGracePeriodSeconds is not a count",
					   out->ns, out->name);
		json_int_t g = json_integer_value(v);
		out->grace_s = g > 3600 ? 3600u : (unsigned)g;
	}

	out->argv = calloc(RUNTIME_MAX_ARGS, sizeof(char *));
	out->envp = calloc(RUNTIME_MAX_ENV, sizeof(char *));
	if (out->argv == NULL || out->envp == NULL) {
		runtime_pod_spec_clear(out);
		return sluice_errf(-1, errmsg, len, "pod %s/%s: out of memory", out->ns, out->name);
	}
	if (runtime_add_args(out, json_object_get(ct, "command")) != 0 ||
	    runtime_add_args(out, json_object_get(ct, "args")) != 0) {
		runtime_pod_spec_clear(out);
		return sluice_errf(-1, errmsg, len,
				   "pod %s/%s: spec.containers[0].command/args must be up to %d strings",
				   out->ns, out->name, RUNTIME_MAX_ARGS - 1);
	}
	if (out->argc == 0) {
		runtime_pod_spec_clear(out);
		return sluice_errf(-1, errmsg, len,
				   "pod %s/%s: spec.containers[0].command is required (no images: the command runs on the node)",
				   out->ns, out->name);
	}
	json_array_foreach(json_object_get(ct, "env"), i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));
		const char *val = json_string_value(json_object_get(v, "value"));
		if (n == NULL || n[0] == '\0' || strchr(n, '=') != NULL || out->envc + 1 >= RUNTIME_MAX_ENV) {
			runtime_pod_spec_clear(out);
			return sluice_errf(-1, errmsg, len,
					   "pod %s/%s: spec.containers[0].env[%zu].name invalid or too many",
					   out->ns, out->name, i);
		}
		size_t l = strlen(n) + (val ? strlen(val) : 0) + 2;
		char *e = malloc(l);
		if (e == NULL) {
			runtime_pod_spec_clear(out);
			return sluice_errf(-1, errmsg, len, "pod %s/%s: out of memory", out->ns, out->name);
		}
		snprintf(e, l, "%s=%s", n, val ? val : "");
		out->envp[out->envc++] = e;
	}
	return 0;
}

int runtime_should_restart(enum runtime_restart policy, int exit_code)
{
	switch (policy) {
	case RUNTIME_RESTART_ALWAYS:
		return 1;
	case RUNTIME_RESTART_ON_FAILURE:
		return exit_code != 0;
	default:
		return 0;
	}
}

uint64_t runtime_backoff_ms(unsigned n, uint64_t base_ms, uint64_t max_ms)
{
	if (base_ms == 0)
		base_ms = 1000;
	if (max_ms == 0)
		max_ms = 60000;
	if (n == 0)
		return 0;
	uint64_t d = base_ms;
	for (unsigned i = 1; i < n && d < max_ms; i++)
		d *= 2;
	return d < max_ms ? d : max_ms;
}

uint64_t runtime_exited(struct runtime_status *st, enum runtime_restart policy, int code,
			int oom_killed, uint64_t ran_ms, unsigned *crashes, uint64_t base_ms,
			uint64_t max_ms)
{
	st->exit_code = code;
	if (!runtime_should_restart(policy, code)) {
		st->state = RUNTIME_TERMINATED;
		snprintf(st->reason, sizeof(st->reason), "%s",
			 oom_killed ? "OOMKilled" : code == 0 ? "Completed" : "Error");
		st->message[0] = '\0';
		return UINT64_MAX;
	}
	st->restarts++;
	*crashes = ran_ms >= RUNTIME_BACKOFF_RESET_MS ? 1 : *crashes + 1;
	st->state = RUNTIME_WAITING;
	snprintf(st->reason, sizeof(st->reason), "CrashLoopBackOff");
	uint64_t d = runtime_backoff_ms(*crashes, base_ms, max_ms);
	snprintf(st->message, sizeof(st->message), "exited with %d; back-off %llu ms restarting", code,
		 (unsigned long long)d);
	return d;
}

const char *runtime_phase_name(enum runtime_phase p)
{
	switch (p) {
	case RUNTIME_PHASE_RUNNING: return "Running";
	case RUNTIME_PHASE_SUCCEEDED: return "Succeeded";
	case RUNTIME_PHASE_FAILED: return "Failed";
	default: return "Pending";
	}
}

enum runtime_phase runtime_phase_of(const struct runtime_status *st, enum runtime_restart policy)
{
	(void)policy; /* the runtime already applied it: TERMINATED means for good */
	switch (st->state) {
	case RUNTIME_RUNNING:
		return RUNTIME_PHASE_RUNNING;
	case RUNTIME_TERMINATED:
		return st->exit_code == 0 ? RUNTIME_PHASE_SUCCEEDED : RUNTIME_PHASE_FAILED;
	default:
		/* Waiting after a start is a restart back-off: still Running. */
		return st->started ? RUNTIME_PHASE_RUNNING : RUNTIME_PHASE_PENDING;
	}
}

void runtime_now_rfc3339(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

static json_t *runtime_cond(const char *type, int ok, const char *now)
{
	return json_pack("{s:s,s:s,s:s}", "type", type, "status", ok ? "True" : "False",
			 "lastTransitionTime", now);
}

json_t *runtime_status_json(const struct runtime_pod_spec *spec, const struct runtime_status *st,
			    const char *now)
{
	enum runtime_phase ph = runtime_phase_of(st, spec->restart);
	int ready = st->state == RUNTIME_RUNNING;
	json_t *state;

	switch (st->state) {
	case RUNTIME_RUNNING:
		state = json_pack("{s:{s:s}}", "running", "startedAt",
				  st->started_at[0] ? st->started_at : now);
		break;
	case RUNTIME_TERMINATED:
		state = json_pack("{s:{s:i,s:s,s:s,s:s}}", "terminated", "exitCode", st->exit_code,
				  "reason", st->reason[0] ? st->reason : (st->exit_code ? "Error" : "Completed"),
				  "startedAt", st->started_at[0] ? st->started_at : now, "finishedAt",
				  st->finished_at[0] ? st->finished_at : now);
		break;
	default:
		state = json_pack("{s:{s:s}}", "waiting", "reason",
				  st->reason[0] ? st->reason : "ContainerCreating");
		if (state != NULL && st->message[0])
			json_object_set_new(json_object_get(state, "waiting"), "message",
					    json_string(st->message));
		break;
	}
	json_t *cs = json_pack("{s:s,s:s,s:b,s:b,s:i,s:o}", "name", spec->container, "image",
			       spec->image, "ready", ready, "started", ready, "restartCount",
			       (int)st->restarts, "state", state);
	json_t *conds = json_pack("[o,o,o,o]", runtime_cond("PodScheduled", 1, now),
				  runtime_cond("Initialized", 1, now),
				  runtime_cond("ContainersReady", ready, now),
				  runtime_cond("Ready", ready, now));
	json_t *s = json_pack("{s:s,s:o,s:[o]}", "phase", runtime_phase_name(ph), "conditions", conds,
			      "containerStatuses", cs);
	if (s == NULL)
		return NULL;
	if (st->pod_ip[0]) {
		json_object_set_new(s, "podIP", json_string(st->pod_ip));
		json_object_set_new(s, "podIPs", json_pack("[{s:s}]", "ip", st->pod_ip));
	}
	if (st->host_ip[0])
		json_object_set_new(s, "hostIP", json_string(st->host_ip));
	if (st->start_time[0])
		json_object_set_new(s, "startTime", json_string(st->start_time));
	if (st->message[0] && ph != RUNTIME_PHASE_RUNNING)
		json_object_set_new(s, "message", json_string(st->message));
	return s;
}

void runtime_status_keep_times(json_t *status, const json_t *old)
{
	size_t i, j;
	json_t *c, *o;

	if (!json_is_object(status) || !json_is_object(old))
		return;
	json_t *st = json_object_get(old, "startTime");
	if (json_is_string(st))
		json_object_set(status, "startTime", st);
	json_array_foreach(json_object_get(status, "conditions"), i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *now = json_string_value(json_object_get(c, "status"));
		json_array_foreach(json_object_get(old, "conditions"), j, o) {
			const char *ot = json_string_value(json_object_get(o, "type"));
			const char *os = json_string_value(json_object_get(o, "status"));
			json_t *t = json_object_get(o, "lastTransitionTime");
			if (type && ot && now && os && strcmp(type, ot) == 0 && strcmp(now, os) == 0 &&
			    json_is_string(t))
				json_object_set(c, "lastTransitionTime", t);
		}
	}
}

uint64_t runtime_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void runtime_logf(void (*log)(void *data, const char *line), void *data, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log != NULL)
		log(data, line);
	else
		fprintf(stderr, "%s\n", line);
}
