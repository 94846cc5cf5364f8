/*
 * cni_version: supported-version table (see cni_version.h).
 */
#include "cni_version.h"

#include <string.h>

static const char *const cni_version_names[CNI_VERSION_COUNT] = {
	[CNI_VERSION_0_3_0] = "0.3.0",
	[CNI_VERSION_0_3_1] = "0.3.1",
	[CNI_VERSION_0_4_0] = "0.4.0",
	[CNI_VERSION_1_0_0] = "1.0.0",
	[CNI_VERSION_1_1_0] = "1.1.0",
};

enum cni_version cni_version_from_string(const char *s)
{
	if (s == NULL)
		return CNI_VERSION_INVALID;
	for (int i = 0; i < CNI_VERSION_COUNT; i++)
		if (strcmp(s, cni_version_names[i]) == 0)
			return (enum cni_version)i;
	return CNI_VERSION_INVALID;
}

const char *cni_version_string(enum cni_version v)
{
	if (v < 0 || v >= CNI_VERSION_COUNT)
		return "";
	return cni_version_names[v];
}

bool cni_version_is_semver(const char *s)
{
	if (s == NULL)
		return false;
	for (int part = 0; part < 3; part++) {
		size_t digits = 0;
		while (*s >= '0' && *s <= '9') {
			s++;
			digits++;
		}
		if (digits == 0 || digits > 5)
			return false;
		if (part < 2) {
			if (*s != '.')
				return false;
			s++;
		}
	}
	return *s == '\0';
}
