/*
 * cni_config: the network configuration sluice-cni reads on stdin.
 *
 * SPEC.md 1.1.0 "Section 1: Network configuration format" and "Section 3:
 * Execution of Network Configurations" (what the runtime injects: name,
 * cniVersion, prevResult, runtimeConfig). The whole document is untrusted:
 * every field is type-checked and bounded, and a version we do not speak is
 * refused with code 1 before anything else is looked at, so that an old
 * runtime gets the error the spec promises and not a confusing code 7.
 *
 * 8< cni-config-keys
 * Plugin-specific keys (all optional):
 *   agentSocket    nanomsg URL of the node agent   ("ipc:///run/sluice/agent.ipc")
 *   timeoutMs      per-request agent timeout, 1..60000 (2000)
 *   mode           "veth" | "memif" | "vhost-user"  ("veth")
 *   mtu            68..65535 (0: leave the kernel default)
 *   socketDir      where memif/vhost-user sockets live ("/run/sluice/sockets")
 *   deviceInfoDir  NPWG device-info dir ("/var/run/k8s.cni.cncf.io/devinfo/cni")
 *   stateDir       pending-cleanup records ("/var/lib/sluice/cni")
 * Capability args in runtimeConfig (conventions.md "Dynamic Plugin
 * specific fields"): portMappings (podman's lower-case or containerd's
 * capitalised keys: Go's JSON decoder matches keys case-insensitively, so
 * runtimes legitimately send both), ips, mac, CNIDeviceInfoFile (NPWG
 * device-info spec 1.1.0 §5.1).
 * >8
 */
#ifndef SLUICE_CNI_CONFIG_H
#define SLUICE_CNI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cni_error.h"
#include "cni_result.h"
#include "cni_version.h"

#define CNI_CONFIG_MAX_LEN (1u << 20)   /* stdin bound */
#define CNI_CONFIG_MAX_PORTS 64
#define CNI_CONFIG_MAX_REQ_IPS 4
#define CNI_CONFIG_MAX_ATTACHMENTS 4096

enum cni_mode {
	CNI_MODE_VETH = 0,
	CNI_MODE_MEMIF,
	CNI_MODE_VHOST_USER,
};

struct cni_port_mapping {
	uint16_t host_port;
	uint16_t container_port;
	char protocol[8];                 /* "tcp" | "udp" | "sctp", lower-cased */
	char host_ip[CNI_IP_STR_MAX];     /* "" = any */
};

struct cni_attachment_ref {
	char container_id[256];
	char ifname[16];
};

struct cni_config {
	enum cni_version version;
	char name[256];
	char type[64];
	char agent_socket[256];
	uint32_t timeout_ms;
	enum cni_mode mode;
	uint32_t mtu;
	char socket_dir[128];
	char device_info_dir[512];
	char device_info_file[1024];      /* runtimeConfig.CNIDeviceInfoFile, "" = derive */
	char state_dir[512];
	char req_mac[18];
	unsigned n_req_ips, n_ports;
	char req_ips[CNI_CONFIG_MAX_REQ_IPS][CNI_CIDR_STR_MAX];
	struct cni_port_mapping ports[CNI_CONFIG_MAX_PORTS];
	bool has_prev_result;
	struct cni_result prev_result;
	/* GC only: cni.dev/valid-attachments (SPEC.md 1.1.0 "GC"). */
	bool has_valid_attachments;
	size_t n_valid_attachments;
	struct cni_attachment_ref *valid_attachments; /* owned */
};

/*
 * Parse and validate the stdin bytes buf[0..len) (need not be
 * NUL-terminated). Returns a new config (free with cni_config_free) or
 * NULL with *err set: CNI_ERR_DECODE (not JSON / prevResult malformed),
 * CNI_ERR_INCOMPATIBLE_VERSION (a well-formed but unsupported cniVersion,
 * or a cniVersions list with no supported entry), CNI_ERR_INVALID_CONFIG
 * (missing or ill-typed field). Any thread; allocates.
 */
struct cni_config *cni_config_parse(const char *buf, size_t len, struct cni_error *err);

/* Free a config from cni_config_parse. NULL is fine. */
void cni_config_free(struct cni_config *cfg);

/*
 * Best-effort: the cniVersion string of buf if it is a supported one, else
 * the latest. Used to label error JSON when the config itself is bad.
 */
enum cni_version cni_config_peek_version(const char *buf, size_t len);

/* Mode name as used in the config and the agent protocol. */
const char *cni_mode_string(enum cni_mode m);

#endif
