/*
 * cni_version: the CNI spec versions sluice-cni speaks.
 *
 * The set is closed (SPEC.md 1.1.0 "Version considerations": a plugin lists
 * the versions it supports in VERSION's supportedVersions and must refuse
 * others with code 1). Versions are an ordered enum so that "at least
 * 0.4.0" (CHECK) or "at least 1.1.0" (GC, STATUS) is one comparison.
 */
#ifndef SLUICE_CNI_VERSION_H
#define SLUICE_CNI_VERSION_H

#include <stdbool.h>
#include <stddef.h>

enum cni_version {
	CNI_VERSION_INVALID = -1,
	CNI_VERSION_0_3_0 = 0,
	CNI_VERSION_0_3_1,
	CNI_VERSION_0_4_0,
	CNI_VERSION_1_0_0,
	CNI_VERSION_1_1_0,
	CNI_VERSION_COUNT,
};

#define CNI_VERSION_LATEST CNI_VERSION_1_1_0

/*
 * Map "X.Y.Z" to a supported version. Returns CNI_VERSION_INVALID for any
 * string that is not exactly one of the supported versions (no prefix
 * matching: "1.1.0x" and "1.1" are refused). s may be NULL. Any thread.
 */
enum cni_version cni_version_from_string(const char *s);

/* Canonical string of a supported version; "" for anything else. */
const char *cni_version_string(enum cni_version v);

/*
 * Is s a syntactically valid semantic version MAJOR.MINOR.PATCH (digits
 * only, each at most 5 digits)? Used to tell "unsupported version" (code 1)
 * from "garbage in cniVersion" (code 7).
 */
bool cni_version_is_semver(const char *s);

#endif
