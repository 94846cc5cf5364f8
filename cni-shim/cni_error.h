/*
 * cni_error: the error convention of sluice-cni.
 *
 * Every cni_ module reports failure through one struct cni_error: a code from
 * enum cni_err, whose values below 100 are exactly the well-known codes of
 * the CNI spec (SPEC.md 1.1.0, "Error" section, table of well-known codes),
 * a one-line message, and details. main() prints it as the CNI error JSON
 * {cniVersion, code, msg, details} on stdout, so a runtime sees the spec
 * code without any translation table between layers.
 */
#ifndef SLUICE_CNI_ERROR_H
#define SLUICE_CNI_ERROR_H

#include <stddef.h>

enum cni_err {
	CNI_OK = 0,
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_TRY_AGAIN = 11,
	CNI_ERR_NOT_AVAILABLE = 50,
	CNI_ERR_LIMITED_CONNECTIVITY = 51,
	/* 100+ are plugin-specific (SPEC.md "Error": codes 100+ may be used freely). */
	CNI_ERR_INTERNAL = 100,
	CNI_ERR_AGENT = 101,
	CNI_ERR_NETNS = 102,
	CNI_ERR_LINK = 103,
};

#define CNI_ERROR_MSG_MAX 256
#define CNI_ERROR_DETAILS_MAX 512

struct cni_error {
	enum cni_err code;
	char msg[CNI_ERROR_MSG_MAX];
	char details[CNI_ERROR_DETAILS_MAX];
};

/*
 * Short fixed description of a code, e.g. "incompatible CNI version".
 * Never returns NULL (unknown codes give "unknown error"). Any thread.
 */
const char *cni_strerror(enum cni_err code);

/*
 * Record an error in *err (may be NULL: then nothing is recorded) and return
 * code, so callers can write `return cni_error_set(err, CODE, "...")`.
 * msg is printf-formatted and truncated to CNI_ERROR_MSG_MAX; details are
 * cleared. Any thread, on its own err.
 */
enum cni_err cni_error_set(struct cni_error *err, enum cni_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Set err->details (printf-formatted, truncated). err may be NULL. */
void cni_error_details(struct cni_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Clear *err to CNI_OK with empty strings. */
void cni_error_clear(struct cni_error *err);

#endif
