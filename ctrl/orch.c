/* Placeholder until the orchestration work stream lands (issue #6). */
#include <errno.h>
#include <stdio.h>

#include "orch.h"

struct orch *orch_start(const struct orch_params *p, char *errmsg, size_t errlen)
{
	(void)p;
	snprintf(errmsg, errlen, "scheduler and controllers are not part of this build yet");
	errno = ENOSYS;
	return NULL;
}

void orch_stop(struct orch *o)
{
	(void)o;
}
