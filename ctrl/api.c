/*
 * api: registration of every API route (docs/api.md) on a master's HTTPS
 * server. The handler families live in api_kv_http.c (etcd gateway shape)
 * and api_rest_http.c (Kubernetes shape); this file only wires them.
 */
#include "api.h"

#include "api_int.h"

int api_register(struct http_server *srv, struct master *m, char *errmsg,
		 size_t errlen)
{
	if (api_kv_register(srv, m, errmsg, errlen) < 0)
		return -1;
	return api_rest_register(srv, m, errmsg, errlen);
}
