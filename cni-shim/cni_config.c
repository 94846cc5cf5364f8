/*
 * cni_config: stdin network configuration parser (see cni_config.h).
 *
 * Order of checks matters for the error code a runtime sees: decode (6)
 * first, then cniVersion (1 or 7), then the rest (7, or 6 for a malformed
 * prevResult since that is a Result decode failure).
 */
#include "cni_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

static const char *const cni_mode_names[] = {
	[CNI_MODE_VETH] = "veth",
	[CNI_MODE_MEMIF] = "memif",
	[CNI_MODE_VHOST_USER] = "vhost-user",
};

const char *cni_mode_string(enum cni_mode m)
{
	if ((unsigned)m >= sizeof(cni_mode_names) / sizeof(cni_mode_names[0]))
		return "";
	return cni_mode_names[m];
}

void cni_config_free(struct cni_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->valid_attachments);
	free(cfg);
}

static json_t *cni_config_load(const char *buf, size_t len, struct cni_error *err)
{
	json_error_t jerr;
	if (buf == NULL || len == 0) {
		cni_error_set(err, CNI_ERR_DECODE, "empty network configuration on stdin");
		return NULL;
	}
	if (len > CNI_CONFIG_MAX_LEN) {
		cni_error_set(err, CNI_ERR_DECODE, "network configuration larger than %u bytes",
			      CNI_CONFIG_MAX_LEN);
		return NULL;
	}
	/* REJECT_DUPLICATES: two "cniVersion" keys would mean two configs. */
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		cni_error_set(err, CNI_ERR_DECODE, "network configuration is not JSON");
		cni_error_details(err, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		cni_error_set(err, CNI_ERR_DECODE, "network configuration is not a JSON object");
		return NULL;
	}
	return root;
}

enum cni_version cni_config_peek_version(const char *buf, size_t len)
{
	json_t *root = cni_config_load(buf, len, NULL);
	enum cni_version v = cni_version_from_string(
		json_string_value(json_object_get(root, "cniVersion")));
	json_decref(root);
	return v == CNI_VERSION_INVALID ? CNI_VERSION_LATEST : v;
}

/* Bounded string field; "required" absent or the wrong type is code 7. */
static enum cni_err cni_config_str(const json_t *o, const char *key, char *dst, size_t cap,
				   bool required, struct cni_error *err)
{
	const json_t *v = json_object_get(o, key);
	if (v == NULL) {
		if (required)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, "missing \"%s\"", key);
		return CNI_OK;
	}
	if (!json_is_string(v) || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "\"%s\" must be a string shorter than %zu bytes", key, cap);
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return CNI_OK;
}

static enum cni_err cni_config_u32(const json_t *o, const char *key, uint32_t lo, uint32_t hi,
				   uint32_t *dst, struct cni_error *err)
{
	const json_t *v = json_object_get(o, key);
	if (v == NULL)
		return CNI_OK;
	if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo || json_integer_value(v) > (json_int_t)hi)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "\"%s\" must be an integer in %u..%u", key, lo, hi);
	*dst = (uint32_t)json_integer_value(v);
	return CNI_OK;
}

/*
 * SPEC.md 1.1.0 §1 "name": must match ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$ (it
 * becomes part of file names, ours included).
 */
static bool cni_config_valid_name(const char *s)
{
	if (!isalnum((unsigned char)s[0]))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}

static enum cni_err cni_config_version(const json_t *root, struct cni_config *cfg,
				       struct cni_error *err)
{
	const json_t *v = json_object_get(root, "cniVersion");
	const json_t *list = json_object_get(root, "cniVersions");

	if (list != NULL) {
		/*
		 * SPEC.md 1.1.0 §1 "cniVersions" (conflist): the versions the
		 * config is valid for. Every entry must be a semver; when no
		 * single cniVersion is given we take the highest we support.
		 */
		enum cni_version best = CNI_VERSION_INVALID;
		if (!json_is_array(list) || json_array_size(list) == 0 ||
		    json_array_size(list) > 64)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					     "\"cniVersions\" must be a non-empty array");
		for (size_t i = 0; i < json_array_size(list); i++) {
			const char *s = json_string_value(json_array_get(list, i));
			if (!cni_version_is_semver(s))
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
						     "\"cniVersions\"[%zu] is not a version", i);
			enum cni_version c = cni_version_from_string(s);
			if (c > best)
				best = c;
		}
		if (v == NULL) {
			if (best == CNI_VERSION_INVALID)
				return cni_error_set(err, CNI_ERR_INCOMPATIBLE_VERSION,
						     "no version in \"cniVersions\" is supported");
			cfg->version = best;
			return CNI_OK;
		}
	}
	if (v == NULL)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, "missing \"cniVersion\"");
	if (!json_is_string(v) || !cni_version_is_semver(json_string_value(v)))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "\"cniVersion\" is not a version string");
	cfg->version = cni_version_from_string(json_string_value(v));
	if (cfg->version == CNI_VERSION_INVALID) {
		cni_error_set(err, CNI_ERR_INCOMPATIBLE_VERSION,
			      "CNI version %s is not supported", json_string_value(v));
		cni_error_details(err, "supported: 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0");
		return CNI_ERR_INCOMPATIBLE_VERSION;
	}
	return CNI_OK;
}

/* Case-insensitive single lookup that refuses "hostPort" and "HostPort" together. */
static enum cni_err cni_config_ci_get(const json_t *o, const char *key, const json_t **out,
				      struct cni_error *err)
{
	const char *k;
	const json_t *v;
	*out = NULL;
	json_object_foreach((json_t *)o, k, v) {
		if (strcasecmp(k, key) != 0)
			continue;
		if (*out != NULL)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					     "portMappings: \"%s\" given twice", key);
		*out = v;
	}
	return CNI_OK;
}

static enum cni_err cni_config_port(const json_t *o, struct cni_port_mapping *pm,
				    struct cni_error *err)
{
	const json_t *hp, *cp, *proto, *hip;
	enum cni_err e;
	unsigned char a[16];
	if (!json_is_object(o))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, "portMappings: not an object");
	if ((e = cni_config_ci_get(o, "hostPort", &hp, err)) ||
	    (e = cni_config_ci_get(o, "containerPort", &cp, err)) ||
	    (e = cni_config_ci_get(o, "protocol", &proto, err)) ||
	    (e = cni_config_ci_get(o, "hostIP", &hip, err)))
		return e;
	if (!json_is_integer(hp) || json_integer_value(hp) < 1 || json_integer_value(hp) > 65535 ||
	    !json_is_integer(cp) || json_integer_value(cp) < 1 || json_integer_value(cp) > 65535)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "portMappings: hostPort and containerPort must be 1..65535");
	pm->host_port = (uint16_t)json_integer_value(hp);
	pm->container_port = (uint16_t)json_integer_value(cp);
	strcpy(pm->protocol, "tcp");
	if (proto != NULL) {
		const char *p = json_string_value(proto);
		if (p == NULL || (strcasecmp(p, "tcp") != 0 && strcasecmp(p, "udp") != 0 &&
				  strcasecmp(p, "sctp") != 0))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					     "portMappings: protocol must be tcp, udp or sctp");
		for (size_t i = 0; p[i]; i++)
			pm->protocol[i] = (char)tolower((unsigned char)p[i]);
		pm->protocol[strlen(p)] = '\0';
	}
	pm->host_ip[0] = '\0';
	if (hip != NULL && !(json_is_string(hip) && json_string_length(hip) == 0)) {
		if (!json_is_string(hip) || cni_ip_parse(json_string_value(hip), a) == 0)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					     "portMappings: hostIP is not an address");
		strcpy(pm->host_ip, json_string_value(hip));
	}
	return CNI_OK;
}

static enum cni_err cni_config_runtime(const json_t *rc, struct cni_config *cfg,
				       struct cni_error *err)
{
	enum cni_err e;
	if (rc == NULL)
		return CNI_OK;
	if (!json_is_object(rc))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, "\"runtimeConfig\" is not an object");

	const json_t *pms = json_object_get(rc, "portMappings");
	if (pms != NULL && !json_is_null(pms)) {
		if (!json_is_array(pms) || json_array_size(pms) > CNI_CONFIG_MAX_PORTS)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					     "portMappings must be an array of at most %d",
					     CNI_CONFIG_MAX_PORTS);
		for (size_t i = 0; i < json_array_size(pms); i++, cfg->n_ports++)
			if ((e = cni_config_port(json_array_get(pms, i), &cfg->ports[i], err)))
				return e;
	}
	const json_t *ips = json_object_get(rc, "ips");
	if (ips != NULL && !json_is_null(ips)) {
		if (!json_is_array(ips) || json_array_size(ips) > CNI_CONFIG_MAX_REQ_IPS)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					     "runtimeConfig.ips must be an array of at most %d",
					     CNI_CONFIG_MAX_REQ_IPS);
		for (size_t i = 0; i < json_array_size(ips); i++, cfg->n_req_ips++) {
			const char *s = json_string_value(json_array_get(ips, i));
			unsigned char a[16];
			/* conventions.md "ips": CIDR strings; a bare address is accepted too. */
			if (s == NULL || strlen(s) >= CNI_CIDR_STR_MAX ||
			    (cni_cidr_parse(s, a, NULL) == 0 && cni_ip_parse(s, a) == 0))
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
						     "runtimeConfig.ips[%zu] is not an address", i);
			strcpy(cfg->req_ips[i], s);
		}
	}
	if ((e = cni_config_str(rc, "mac", cfg->req_mac, sizeof(cfg->req_mac), false, err)) ||
	    (e = cni_config_str(rc, "CNIDeviceInfoFile", cfg->device_info_file,
				sizeof(cfg->device_info_file), false, err)))
		return e;
	if (cfg->device_info_file[0] != '\0' && cfg->device_info_file[0] != '/')
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "CNIDeviceInfoFile must be an absolute path");
	return CNI_OK;
}

static enum cni_err cni_config_attachments(const json_t *va, struct cni_config *cfg,
					   struct cni_error *err)
{
	if (va == NULL)
		return CNI_OK;
	if (!json_is_array(va) || json_array_size(va) > CNI_CONFIG_MAX_ATTACHMENTS)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "cni.dev/valid-attachments must be an array of at most %d",
				     CNI_CONFIG_MAX_ATTACHMENTS);
	cfg->has_valid_attachments = true;
	size_t n = json_array_size(va);
	cfg->valid_attachments = calloc(n ? n : 1, sizeof(*cfg->valid_attachments));
	if (cfg->valid_attachments == NULL)
		return cni_error_set(err, CNI_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < n; i++, cfg->n_valid_attachments++) {
		const json_t *o = json_array_get(va, i);
		struct cni_attachment_ref *a = &cfg->valid_attachments[i];
		enum cni_err e;
		if (!json_is_object(o))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					     "cni.dev/valid-attachments[%zu] is not an object", i);
		if ((e = cni_config_str(o, "containerID", a->container_id, sizeof(a->container_id),
					true, err)) ||
		    (e = cni_config_str(o, "ifname", a->ifname, sizeof(a->ifname), true, err)))
			return e;
	}
	return CNI_OK;
}

struct cni_config *cni_config_parse(const char *buf, size_t len, struct cni_error *err)
{
	json_t *root = cni_config_load(buf, len, err);
	if (root == NULL)
		return NULL;
	struct cni_config *cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		json_decref(root);
		cni_error_set(err, CNI_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	strcpy(cfg->agent_socket, "ipc:///run/sluice/agent.ipc");
	cfg->timeout_ms = 2000;
	strcpy(cfg->socket_dir, "/run/sluice/sockets");
	strcpy(cfg->device_info_dir, "/var/run/k8s.cni.cncf.io/devinfo/cni");
	strcpy(cfg->state_dir, "/var/lib/sluice/cni");

	char mode[16] = "veth";
	enum cni_err e;
	if ((e = cni_config_version(root, cfg, err)) ||
	    (e = cni_config_str(root, "name", cfg->name, sizeof(cfg->name), true, err)) ||
	    (e = cni_config_str(root, "type", cfg->type, sizeof(cfg->type), true, err)) ||
	    (e = cni_config_str(root, "agentSocket", cfg->agent_socket, sizeof(cfg->agent_socket),
				false, err)) ||
	    (e = cni_config_u32(root, "timeoutMs", 1, 60000, &cfg->timeout_ms, err)) ||
	    (e = cni_config_str(root, "mode", mode, sizeof(mode), false, err)) ||
	    (e = cni_config_u32(root, "mtu", 68, 65535, &cfg->mtu, err)) ||
	    (e = cni_config_str(root, "socketDir", cfg->socket_dir, sizeof(cfg->socket_dir), false,
				err)) ||
	    (e = cni_config_str(root, "deviceInfoDir", cfg->device_info_dir,
				sizeof(cfg->device_info_dir), false, err)) ||
	    (e = cni_config_str(root, "stateDir", cfg->state_dir, sizeof(cfg->state_dir), false,
				err)))
		goto fail;
	if (!cni_config_valid_name(cfg->name)) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG,
			      "\"name\" must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$");
		goto fail;
	}
	if (cfg->type[0] == '\0') {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, "\"type\" is empty");
		goto fail;
	}
	if (strcmp(mode, "veth") == 0)
		cfg->mode = CNI_MODE_VETH;
	else if (strcmp(mode, "memif") == 0)
		cfg->mode = CNI_MODE_MEMIF;
	else if (strcmp(mode, "vhost-user") == 0)
		cfg->mode = CNI_MODE_VHOST_USER;
	else {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG,
			      "\"mode\" must be veth, memif or vhost-user");
		goto fail;
	}
	/* Paths we create files under must be absolute: a relative one depends on the runtime's cwd. */
	if (cfg->socket_dir[0] != '/' || cfg->device_info_dir[0] != '/' || cfg->state_dir[0] != '/') {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG,
			      "socketDir, deviceInfoDir and stateDir must be absolute paths");
		goto fail;
	}
	if (strncmp(cfg->agent_socket, "ipc://", 6) != 0 &&
	    strncmp(cfg->agent_socket, "tcp://", 6) != 0) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG,
			      "\"agentSocket\" must be an ipc:// or tcp:// URL");
		goto fail;
	}

	const json_t *caps = json_object_get(root, "capabilities");
	if (caps != NULL) {
		const char *k;
		json_t *v;
		if (!json_is_object(caps)) {
			cni_error_set(err, CNI_ERR_INVALID_CONFIG, "\"capabilities\" is not an object");
			goto fail;
		}
		/* conventions.md: capabilities maps a capability name to a boolean. */
		json_object_foreach((json_t *)caps, k, v) {
			if (!json_is_boolean(v)) {
				cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					      "capabilities.%.64s is not a boolean", k);
				goto fail;
			}
		}
	}
	const json_t *args = json_object_get(root, "args");
	if (args != NULL && !json_is_object(args)) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, "\"args\" is not an object");
		goto fail;
	}
	if (cni_config_runtime(json_object_get(root, "runtimeConfig"), cfg, err) != CNI_OK)
		goto fail;
	if (cni_config_attachments(json_object_get(root, "cni.dev/valid-attachments"), cfg, err) !=
	    CNI_OK)
		goto fail;

	const json_t *prev = json_object_get(root, "prevResult");
	if (prev != NULL && !json_is_null(prev)) {
		/* SPEC.md §3: prevResult is in the config's cniVersion. */
		if (cni_result_parse(prev, cfg->version, &cfg->prev_result, err) != CNI_OK) {
			char m[CNI_ERROR_MSG_MAX];
			snprintf(m, sizeof(m), "%s", err ? err->msg : "");
			cni_error_set(err, CNI_ERR_DECODE, "prevResult: %.200s", m);
			goto fail;
		}
		cfg->has_prev_result = true;
	}
	json_decref(root);
	return cfg;
fail:
	json_decref(root);
	cni_config_free(cfg);
	return NULL;
}
