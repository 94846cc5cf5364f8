/*
 * attach_key: the name of one pod attachment, shared by sluice-cni and the
 * node agent.
 *
 * The plugin names the host end of a pod's veth with it, and both the plugin
 * and the agent use it as the attachment's key (port and pod name) in agent
 * requests and in GC's valid-attachments list. The two processes derive it
 * independently from the runtime's (CNI_CONTAINERID, CNI_IFNAME), so it must
 * be one definition: FNV-1a 64 over "container_id/ifname", low 48 bits, as
 * "sl" + 12 hex digits = 14 characters, which fits IFNAMSIZ (16) with its NUL.
 */
#ifndef SLUICE_ATTACH_KEY_H
#define SLUICE_ATTACH_KEY_H

#include <stdint.h>
#include <stdio.h>

#define SLUICE_ATTACH_KEY_SIZE 16 /* 14 characters + NUL */

/** Write the attachment key of (@container_id, @ifname) to @out.
 * Pure, any thread; both strings NUL-terminated, not retained. */
static inline void sluice_attach_key(const char *container_id, const char *ifname,
				     char out[SLUICE_ATTACH_KEY_SIZE])
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */

	for (const char *p = container_id; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	h = (h ^ '/') * 0x100000001b3ull;
	for (const char *p = ifname; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	snprintf(out, SLUICE_ATTACH_KEY_SIZE, "sl%012llx",
		 (unsigned long long)(h & 0xffffffffffffull));
}

#endif
