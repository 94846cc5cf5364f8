/*
 * cni_devinfo: NPWG device-info files (see cni_devinfo.h).
 */
#include "cni_devinfo.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cni_store.h"

enum cni_err cni_devinfo_path(const struct cni_config *cfg, const char *container_id,
			      const char *ifname, char *out, size_t cap, struct cni_error *err)
{
	int n;
	if (cfg->device_info_file[0] != '\0')
		n = snprintf(out, cap, "%s", cfg->device_info_file);
	else
		n = snprintf(out, cap, "%s/%s-%s-%s-device.json", cfg->device_info_dir, cfg->name,
			     container_id, ifname);
	if (n < 0 || (size_t)n >= cap)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, "device-info path too long");
	return CNI_OK;
}

enum cni_err cni_devinfo_write(const char *path, enum cni_mode mode, const char *socket_path,
			       struct cni_error *err)
{
	json_t *o;
	if (mode == CNI_MODE_MEMIF)
		o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "type", "memif", "version", "1.1.0",
			      "memif", "role", "slave", "path", socket_path, "mode", "ethernet");
	else if (mode == CNI_MODE_VHOST_USER)
		o = json_pack("{s:s, s:s, s:{s:s, s:s}}", "type", "vhost-user", "version", "1.1.0",
			      "vhost-user", "mode", "client", "path", socket_path);
	else
		return cni_error_set(err, CNI_ERR_INTERNAL, "device-info: veth has none");
	char *txt = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	if (txt == NULL)
		return cni_error_set(err, CNI_ERR_INTERNAL, "device-info: out of memory");
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	int rc = 0;
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		rc = cni_store_mkdirs(dir);
	}
	if (rc == 0)
		rc = cni_store_write_file(path, txt);
	free(txt);
	if (rc != 0)
		return cni_error_set(err, CNI_ERR_IO, "device-info %.200s: %s", path, strerror(-rc));
	return CNI_OK;
}

void cni_devinfo_remove(const char *path)
{
	if (path != NULL && path[0] != '\0')
		unlink(path);
}
