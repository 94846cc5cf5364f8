/*
 * cni_devinfo: NPWG device-info files for memif and vhost-user pods.
 *
 * A DPDK pod finds its socket through the device-info file (NPWG
 * Device Information spec 1.1.0 §4.2 "CNI Plugin Device Information File"
 * and §3.1.5/§3.1.6). dp creates the socket, so from the pod's side a
 * vhost-user socket is mode "client" (§3.1.5.1: the host creates the
 * socket file) and a memif socket is role "slave" (§3.1.6.1), mode
 * "ethernet". The path is runtimeConfig.CNIDeviceInfoFile when the runtime
 * gives one (§5.1.2), else deviceInfoDir/<network>-<containerID>-<ifname>-device.json.
 * Any thread; arguments are borrowed.
 */
#ifndef SLUICE_CNI_DEVINFO_H
#define SLUICE_CNI_DEVINFO_H

#include <stddef.h>

#include "cni_config.h"
#include "cni_error.h"

/* Compose the device-info path into out[cap]. CNI_ERR_INVALID_CONFIG if it does not fit. */
enum cni_err cni_devinfo_path(const struct cni_config *cfg, const char *container_id,
			      const char *ifname, char *out, size_t cap, struct cni_error *err);

/*
 * Write the file atomically, creating its directory (§5.1.2: the plugin
 * must create the root directory). mode is CNI_MODE_MEMIF or
 * CNI_MODE_VHOST_USER. CNI_ERR_IO on failure.
 */
enum cni_err cni_devinfo_write(const char *path, enum cni_mode mode, const char *socket_path,
			       struct cni_error *err);

/* Remove the file; absent is fine (DEL is idempotent). */
void cni_devinfo_remove(const char *path);

#endif
