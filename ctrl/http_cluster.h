/*
 * http_cluster: the master's own endpoints (docs/api.md "Cluster
 * endpoints", docs/master.md): GET /healthz, GET /readyz,
 * GET /cluster/status, POST /cluster/members (join), and the leader lookup
 * the HTTP server uses for forwarding. Loop thread.
 */
#ifndef SLUICE_CTRL_HTTP_CLUSTER_H
#define SLUICE_CTRL_HTTP_CLUSTER_H

#include <stddef.h>

struct http_server;
struct master;

struct http_cluster; /* opaque: routes' state and the /healthz prober */

/* Register the four routes and start probing the other masters' /healthz
 * once a second. NULL with errmsg on error. Loop thread. */
struct http_cluster *http_cluster_register(struct http_server *srv, struct master *m,
					   char *errmsg, size_t errlen);

/* Stop probing and free; after the loop stopped and before or after
 * http_server_free (the routes must not be used again). Accepts NULL. */
void http_cluster_free(struct http_cluster *hc);

/* http_leader_fn over a struct master (arg). */
int http_cluster_leader(void *m, char *url, size_t len);

#endif
