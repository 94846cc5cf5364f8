/*
 * cni_store: attachment and pending-cleanup records (see cni_store.h).
 */
#include "cni_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define CNI_STORE_MAX_RECORD (256u * 1024u)

int cni_store_mkdirs(const char *dir)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int cni_store_write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			close(fd);
			unlink(tmp);
			return e;
		}
		off += (size_t)n;
	}
	/* fsync before rename: after a crash the record is whole or absent, never torn. */
	if (fsync(fd) != 0 || close(fd) != 0) {
		int e = -errno;
		unlink(tmp);
		return e;
	}
	if (rename(tmp, path) != 0) {
		int e = -errno;
		unlink(tmp);
		return e;
	}
	return 0;
}

static void cni_store_key(const char *network, const char *cid, const char *ifname, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ull;
	const char *parts[3] = { network, cid, ifname };
	for (int i = 0; i < 3; i++) {
		for (const char *p = parts[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
		h = (h ^ 0xff) * 0x100000001b3ull; /* separator no valid name contains */
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static int cni_store_path(char *out, size_t cap, const char *state_dir, const char *kind,
			  const char *network, const char *cid, const char *ifname)
{
	char key[17];
	cni_store_key(network, cid, ifname, key);
	int n = snprintf(out, cap, "%s/%s/%s.json", state_dir, kind, key);
	return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

void cni_store_to_agent(const struct cni_store_att *a, struct cni_agent_attachment *out)
{
	out->network = a->network;
	out->container_id = a->container_id;
	out->ifname = a->ifname;
	out->netns = a->netns;
	out->mode = a->mode;
	out->host_ifname = a->host_ifname;
	out->socket_path = a->socket_path;
	out->pod_mac = a->result.n_ifaces > 0 ? a->result.ifaces[a->result.n_ifaces - 1].mac : "";
}

static json_t *cni_store_att_json(const struct cni_agent_attachment *a)
{
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "v", 1, "network", a->network,
			 "container_id", a->container_id, "ifname", a->ifname, "netns",
			 a->netns ? a->netns : "", "mode", cni_mode_string(a->mode), "host_ifname",
			 a->host_ifname ? a->host_ifname : "", "socket_path",
			 a->socket_path ? a->socket_path : "");
}

static enum cni_err cni_store_write(const char *state_dir, const char *kind, const char *network,
				    const char *cid, const char *ifname, json_t *o,
				    struct cni_error *err)
{
	char dir[PATH_MAX], path[PATH_MAX];
	char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (txt == NULL)
		return cni_error_set(err, CNI_ERR_INTERNAL, "store: cannot encode record");
	int rc = snprintf(dir, sizeof(dir), "%s/%s", state_dir, kind) >= (int)sizeof(dir)
			 ? -ENAMETOOLONG
			 : cni_store_mkdirs(dir);
	if (rc == 0)
		rc = cni_store_path(path, sizeof(path), state_dir, kind, network, cid, ifname);
	if (rc == 0)
		rc = cni_store_write_file(path, txt);
	free(txt);
	if (rc != 0)
		return cni_error_set(err, CNI_ERR_IO, "store: %s record under %.200s: %s", kind,
				     state_dir, strerror(-rc));
	return CNI_OK;
}

enum cni_err cni_store_put(const char *state_dir, const struct cni_store_att *a,
			   struct cni_error *err)
{
	struct cni_agent_attachment v;
	cni_store_to_agent(a, &v);
	json_t *o = cni_store_att_json(&v);
	json_t *res = cni_result_to_json(&a->result, CNI_VERSION_1_1_0);
	if (o == NULL || res == NULL ||
	    json_object_set_new(o, "devinfo_path", json_string(a->devinfo_path)) != 0 ||
	    json_object_set_new(o, "result", res) != 0) {
		json_decref(o);
		return cni_error_set(err, CNI_ERR_INTERNAL, "store: out of memory");
	}
	return cni_store_write(state_dir, "att", a->network, a->container_id, a->ifname, o, err);
}

static json_t *cni_store_load(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (size_t)st.st_size > CNI_STORE_MAX_RECORD)
		return NULL;
	return json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
}

static bool cni_store_field(const json_t *o, const char *key, char *dst, size_t cap)
{
	const char *s = json_string_value(json_object_get(o, key));
	if (s == NULL || strlen(s) >= cap)
		return false;
	memcpy(dst, s, strlen(s) + 1);
	return true;
}

/* Validate a record read back from disk into *a. */
static bool cni_store_decode(const json_t *o, struct cni_store_att *a, bool with_result)
{
	char mode[16];
	memset(a, 0, sizeof(*a));
	if (!json_is_object(o) || json_integer_value(json_object_get(o, "v")) != 1 ||
	    !cni_store_field(o, "network", a->network, sizeof(a->network)) ||
	    !cni_store_field(o, "container_id", a->container_id, sizeof(a->container_id)) ||
	    !cni_store_field(o, "ifname", a->ifname, sizeof(a->ifname)) ||
	    !cni_store_field(o, "netns", a->netns, sizeof(a->netns)) ||
	    !cni_store_field(o, "mode", mode, sizeof(mode)) ||
	    !cni_store_field(o, "host_ifname", a->host_ifname, sizeof(a->host_ifname)) ||
	    !cni_store_field(o, "socket_path", a->socket_path, sizeof(a->socket_path)))
		return false;
	if (strcmp(mode, "veth") == 0)
		a->mode = CNI_MODE_VETH;
	else if (strcmp(mode, "memif") == 0)
		a->mode = CNI_MODE_MEMIF;
	else if (strcmp(mode, "vhost-user") == 0)
		a->mode = CNI_MODE_VHOST_USER;
	else
		return false;
	if (!with_result)
		return true;
	return cni_store_field(o, "devinfo_path", a->devinfo_path, sizeof(a->devinfo_path)) &&
	       cni_result_parse(json_object_get(o, "result"), CNI_VERSION_1_1_0, &a->result,
				NULL) == CNI_OK;
}

enum cni_err cni_store_get(const char *state_dir, const char *network, const char *container_id,
			   const char *ifname, struct cni_store_att *a, struct cni_error *err)
{
	char path[PATH_MAX];
	if (cni_store_path(path, sizeof(path), state_dir, "att", network, container_id, ifname))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, "store: stateDir too long");
	if (access(path, F_OK) != 0)
		return cni_error_set(err, CNI_ERR_UNKNOWN_CONTAINER,
				     "no attachment for container %.64s ifname %s", container_id,
				     ifname);
	json_t *o = cni_store_load(path);
	bool ok = cni_store_decode(o, a, true);
	json_decref(o);
	/* A hash collision or a torn file: not our tuple, treat as unreadable. */
	if (!ok || strcmp(a->network, network) || strcmp(a->container_id, container_id) ||
	    strcmp(a->ifname, ifname))
		return cni_error_set(err, CNI_ERR_DECODE, "store: record %s is unreadable", path);
	return CNI_OK;
}

void cni_store_del(const char *state_dir, const char *network, const char *container_id,
		   const char *ifname)
{
	char path[PATH_MAX];
	if (cni_store_path(path, sizeof(path), state_dir, "att", network, container_id, ifname) == 0)
		unlink(path);
}

/* Visit the regular *.json files of state_dir/kind. */
static unsigned cni_store_scan(const char *state_dir, const char *kind,
			       bool (*fn)(const char *path, void *data), void *data)
{
	char dir[PATH_MAX], path[PATH_MAX];
	unsigned n = 0;
	if (snprintf(dir, sizeof(dir), "%s/%s", state_dir, kind) >= (int)sizeof(dir))
		return 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		/* Only finished records: "<16 hex>.json", never a writer's temp file. */
		if (len != 21 || strcmp(de->d_name + 16, ".json") != 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		n++;
		if (fn != NULL && !fn(path, data))
			break;
	}
	closedir(d);
	return n;
}

struct cni_store_foreach_ctx {
	const char *network;
	void (*fn)(const struct cni_store_att *a, void *data);
	void *data;
	unsigned visited;
	struct cni_store_att att;
};

static bool cni_store_foreach_one(const char *path, void *data)
{
	struct cni_store_foreach_ctx *c = data;
	json_t *o = cni_store_load(path);
	if (cni_store_decode(o, &c->att, true) && strcmp(c->att.network, c->network) == 0) {
		c->fn(&c->att, c->data);
		c->visited++;
	}
	json_decref(o);
	return true;
}

unsigned cni_store_foreach(const char *state_dir, const char *network,
			   void (*fn)(const struct cni_store_att *a, void *data), void *data)
{
	struct cni_store_foreach_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return 0;
	c->network = network;
	c->fn = fn;
	c->data = data;
	cni_store_scan(state_dir, "att", cni_store_foreach_one, c);
	unsigned n = c->visited;
	free(c);
	return n;
}

enum cni_err cni_store_pending_add(const char *state_dir, const struct cni_agent_attachment *a,
				   struct cni_error *err)
{
	return cni_store_write(state_dir, "pending", a->network, a->container_id, a->ifname,
			       cni_store_att_json(a), err);
}

struct cni_store_flush_ctx {
	struct cni_agent *agent;
	unsigned max, done;
	bool stop;
};

static bool cni_store_flush_one(const char *path, void *data)
{
	struct cni_store_flush_ctx *c = data;
	struct cni_store_att *att = calloc(1, sizeof(*att));
	struct cni_agent_attachment v;
	if (att == NULL)
		return false;
	json_t *o = cni_store_load(path);
	if (!cni_store_decode(o, att, false)) {
		/* Torn or foreign: nothing the agent could act on; drop it. */
		unlink(path);
	} else {
		cni_store_to_agent(att, &v);
		enum cni_err e = cni_agent_del(c->agent, &v, NULL);
		if (e == CNI_OK) {
			unlink(path);
			c->done++;
		} else if (e == CNI_ERR_TRY_AGAIN || e == CNI_ERR_AGENT) {
			c->stop = true; /* agent gone again: keep the rest for later */
		}
	}
	json_decref(o);
	free(att);
	return !c->stop && c->done < c->max;
}

unsigned cni_store_pending_flush(const char *state_dir, struct cni_agent *agent, unsigned max)
{
	struct cni_store_flush_ctx c = { .agent = agent, .max = max };
	if (max > 0)
		cni_store_scan(state_dir, "pending", cni_store_flush_one, &c);
	return c.done;
}

unsigned cni_store_pending_count(const char *state_dir)
{
	return cni_store_scan(state_dir, "pending", NULL, NULL);
}

enum cni_err cni_store_pending_settle(const char *state_dir, struct cni_agent *agent,
				      const char *network, const char *container_id,
				      const char *ifname, struct cni_error *err)
{
	char path[PATH_MAX];
	if (cni_store_path(path, sizeof(path), state_dir, "pending", network, container_id, ifname))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, "store: stateDir too long");
	if (access(path, F_OK) != 0)
		return CNI_OK;
	struct cni_store_att *att = calloc(1, sizeof(*att));
	if (att == NULL)
		return cni_error_set(err, CNI_ERR_INTERNAL, "out of memory");
	json_t *o = cni_store_load(path);
	enum cni_err e = CNI_OK;
	/* Same key but another tuple (hash collision) or torn: not ours to replay. */
	if (cni_store_decode(o, att, false) && strcmp(att->network, network) == 0 &&
	    strcmp(att->container_id, container_id) == 0 && strcmp(att->ifname, ifname) == 0) {
		struct cni_agent_attachment v;
		cni_store_to_agent(att, &v);
		e = cni_agent_del(agent, &v, err);
	}
	if (e == CNI_OK)
		unlink(path);
	json_decref(o);
	free(att);
	return e;
}
