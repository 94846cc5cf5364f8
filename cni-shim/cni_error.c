/*
 * cni_error: codes, names and the error record (see cni_error.h).
 */
#include "cni_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cni_strerror(enum cni_err code)
{
	switch (code) {
	case CNI_OK: return "success";
	case CNI_ERR_INCOMPATIBLE_VERSION: return "incompatible CNI version";
	case CNI_ERR_UNSUPPORTED_FIELD: return "unsupported field in network configuration";
	case CNI_ERR_UNKNOWN_CONTAINER: return "container unknown or does not exist";
	case CNI_ERR_INVALID_ENV: return "invalid necessary environment variables";
	case CNI_ERR_IO: return "I/O failure";
	case CNI_ERR_DECODE: return "failed to decode content";
	case CNI_ERR_INVALID_CONFIG: return "invalid network config";
	case CNI_ERR_TRY_AGAIN: return "try again later";
	case CNI_ERR_NOT_AVAILABLE: return "plugin not available";
	case CNI_ERR_LIMITED_CONNECTIVITY: return "plugin not available, limited connectivity";
	case CNI_ERR_INTERNAL: return "internal error";
	case CNI_ERR_AGENT: return "node agent refused the request";
	case CNI_ERR_NETNS: return "network namespace failure";
	case CNI_ERR_LINK: return "interface setup failure";
	}
	return "unknown error";
}

enum cni_err cni_error_set(struct cni_error *err, enum cni_err code, const char *fmt, ...)
{
	if (err == NULL)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->code = code;
	err->details[0] = '\0';
	return code;
}

void cni_error_details(struct cni_error *err, const char *fmt, ...)
{
	if (err == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->details, sizeof(err->details), fmt, ap);
	va_end(ap);
}

void cni_error_clear(struct cni_error *err)
{
	if (err == NULL)
		return;
	err->code = CNI_OK;
	err->msg[0] = '\0';
	err->details[0] = '\0';
}
