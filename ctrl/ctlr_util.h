/*
 * ctlr_util: small pure helpers shared by the scheduler and the controllers
 * (pod readiness, label selection, RFC 3339 times, object keys), so each
 * rule is written once.
 *
 * Threading: no state; any thread.
 */
#ifndef SLUICE_CTRL_CTLR_UTIL_H
#define SLUICE_CTRL_CTLR_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* metadata.name / metadata.namespace ("" if absent, never NULL). */
const char *ctlr_name(const json_t *obj);
const char *ctlr_namespace(const json_t *obj);
/* metadata.uid, or NULL. */
const char *ctlr_uid(const json_t *obj);

/* "ns/name" (or "name" for a cluster-scoped object) into buf; false if it
 * does not fit. */
bool ctlr_key(const json_t *obj, char *buf, size_t cap);

/* status.phase is Succeeded or Failed: the pod holds nothing any more. */
bool ctlr_pod_terminal(const json_t *pod);
/* The Ready condition is True; a pod without a Ready condition counts as
 * ready once status.phase is Running (agents that report phase only). */
bool ctlr_pod_ready(const json_t *pod);
/* spec.nodeName, or NULL when unbound. */
const char *ctlr_pod_node(const json_t *pod);

/* Every key=value of selector (an object of strings) is in labels. An
 * empty selector matches everything; a NULL selector matches nothing. */
bool ctlr_labels_match(const json_t *selector, const json_t *labels);

/* The status of condition `type` in status.conditions ("True", "False",
 * "Unknown"), or NULL; *since gets its lastTransitionTime (0 if none). */
const char *ctlr_condition(const json_t *obj, const char *type, int64_t *since_us);

/* RFC 3339 (with optional fraction and Z or +hh:mm) to microseconds since
 * the epoch; false if malformed. */
bool ctlr_time_parse(const char *s, int64_t *us);
/* Microseconds to "2006-01-02T15:04:05.000000Z" (27 chars + NUL). */
void ctlr_time_format(int64_t us, char *buf, size_t cap);
/* Wall clock in microseconds. */
int64_t ctlr_now_us(void);

/* "a.b.c.d/n" (IPv4, n 0..32) to its address (host order) and length;
 * false if malformed. */
bool ctlr_cidr4_parse(const char *s, uint32_t *addr, unsigned *len);
/* The netmask of a prefix length (host order). */
uint32_t ctlr_mask4(unsigned len);

#endif
