/*
 * errmsg: the message half of the error convention of consensus/ and ctrl/
 * (STYLE 9): a function returns its module's error code and, when the
 * caller passed a buffer, writes one line of context into it. Callers wrap
 * that line with their own context on the way up.
 */
#ifndef SLUICE_ERRMSG_H
#define SLUICE_ERRMSG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/** Format into @errmsg (@len bytes; NULL or 0 = no message wanted) and
 * return @code, so error paths read `return sluice_errf(ERR, msg, len, ...)`.
 * Any thread; truncates, always NUL-terminates when len > 0. */
__attribute__((format(printf, 4, 5))) static inline int
sluice_errf(int code, char *errmsg, size_t len, const char *fmt, ...)
{
	if (errmsg != NULL && len > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errmsg, len, fmt, ap);
		va_end(ap);
	}
	return code;
}

#endif
