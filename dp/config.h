/*
 * dpcfg: load and validate the sluice-dp JSON config (docs/dp-config.md).
 *
 * Pure (jansson + libc, no DPDK) so it is unit-tested and fuzzed without
 * EAL, and so main() validates the file before EAL touches hugepages.
 * Validation is complete before anything is applied: a dpcfg that exists
 * is consistent (names unique, references resolve, addresses inside the
 * pod CIDR). The first problem found is reported as one line
 * "<json path>: <reason>", e.g. "ports[1].type: must be one of ...".
 */
#ifndef SLUICE_DP_CONFIG_H
#define SLUICE_DP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "dp.h"

struct dpcfg_pod {
	uint32_t ip;           /* network order */
	uint8_t mac[6];
	char port[DP_NAME_MAX];
};

struct dpcfg_route {
	uint32_t prefix;       /* network order */
	uint8_t depth;
	uint8_t mac[6];
	char port[DP_NAME_MAX];
	uint32_t via;          /* underlay next hop (network order), 0 = port + MAC */
};

struct dpcfg {
	struct dp_params node; /* options from dpcfg_opts[], defaults applied */
	unsigned n_ports;
	struct dp_port_params ports[DP_MAX_PORTS];
	unsigned n_pods;
	struct dpcfg_pod *pods;
	unsigned n_routes;
	struct dpcfg_route *routes;
	int has_host;
	char host_port[DP_NAME_MAX];
	uint32_t host_ip;
	int has_uplink;
	struct dp_uplink_params uplink;
};

/*
 * The scalar options table (STYLE 19): each option is read from the JSON
 * "node" object by its name, from the command line by its flag (if any),
 * and at runtime through dp_option_set() if it is runtime-mutable. All
 * three front ends check the same bounds.
 */
struct dpcfg_opt {
	const char *name;      /* JSON key under "node", dp_option_set() name */
	const char *cli;       /* "--flag" taking the value, or NULL */
	long long min, max, dflt;
	size_t offset;         /* uint32_t field in struct dp_params */
	int runtime;           /* may change while workers run */
	const char *help;
};

extern const struct dpcfg_opt dpcfg_opts[];
extern const unsigned dpcfg_n_opts;

/** Find an option by JSON name or by CLI flag. NULL if none. */
const struct dpcfg_opt *dpcfg_opt_find(const char *name);

/** Parse decimal @s for @o within its bounds. 0 or -EINVAL. */
int dpcfg_opt_parse(const struct dpcfg_opt *o, const char *s, uint32_t *out);

/** Store @v into @p's field for @o (no bounds check). */
void dpcfg_opt_store(const struct dpcfg_opt *o, struct dp_params *p, uint32_t v);

/**
 * Parse and validate @len bytes of JSON at @text (not owned).
 * Returns a new dpcfg (free with dpcfg_free), or NULL with errno EINVAL
 * (message in @err) or ENOMEM. Any thread.
 */
struct dpcfg *dpcfg_parse(const char *text, size_t len, char *err, size_t errlen);

/** dpcfg_parse() of the file at @path; an unreadable file is reported in
 *  @err as "<path>: <strerror>" with errno set. */
struct dpcfg *dpcfg_load(const char *path, char *err, size_t errlen);

/** Free a dpcfg. NULL ok. */
void dpcfg_free(struct dpcfg *cfg);

/** Parse "xx:xx:xx:xx:xx:xx" (exactly). Returns 0 or -EINVAL. */
int dpcfg_parse_mac(const char *s, uint8_t mac[6]);

/** Parse "a.b.c.d/len" with len in 0..32 and no host bits. 0 or -EINVAL. */
int dpcfg_parse_prefix(const char *s, uint32_t *net, uint8_t *depth);

#endif
