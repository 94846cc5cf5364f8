/*
 * ctlr_util: pure helpers shared by the scheduler and the controllers.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctlr_util.h"

const char *ctlr_name(const json_t *obj)
{
	const char *s = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	return s ? s : "";
}

const char *ctlr_namespace(const json_t *obj)
{
	const char *s =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
	return s ? s : "";
}

const char *ctlr_uid(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid"));
}

bool ctlr_key(const json_t *obj, char *buf, size_t cap)
{
	const char *ns = ctlr_namespace(obj);
	int n = ns[0] ? snprintf(buf, cap, "%s/%s", ns, ctlr_name(obj))
		      : snprintf(buf, cap, "%s", ctlr_name(obj));
	return n > 0 && (size_t)n < cap;
}

static const char *ctlr_phase(const json_t *pod)
{
	const char *p = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
	return p ? p : "";
}

bool ctlr_pod_terminal(const json_t *pod)
{
	const char *p = ctlr_phase(pod);
	return strcmp(p, "Succeeded") == 0 || strcmp(p, "Failed") == 0;
}

bool ctlr_pod_ready(const json_t *pod)
{
	if (ctlr_pod_terminal(pod))
		return false;
	const char *st = ctlr_condition(pod, "Ready", NULL);
	if (st)
		return strcmp(st, "True") == 0;
	return strcmp(ctlr_phase(pod), "Running") == 0;
}

const char *ctlr_pod_node(const json_t *pod)
{
	const char *n = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
	return n && n[0] ? n : NULL;
}

bool ctlr_labels_match(const json_t *selector, const json_t *labels)
{
	if (!json_is_object(selector))
		return false;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)selector, k, v) {
		json_t *have = json_object_get(labels, k);
		if (!json_is_string(have) || !json_equal(have, v))
			return false;
	}
	return true;
}

const char *ctlr_condition(const json_t *obj, const char *type, int64_t *since_us)
{
	json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions");
	size_t i;
	json_t *c;
	if (since_us)
		*since_us = 0;
	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t == NULL || strcmp(t, type) != 0)
			continue;
		const char *ts = json_string_value(json_object_get(c, "lastTransitionTime"));
		if (since_us && ts && !ctlr_time_parse(ts, since_us))
			*since_us = 0;
		return json_string_value(json_object_get(c, "status"));
	}
	return NULL;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so parsing needs no timegm() and no TZ. */
static int64_t ctlr_days(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool ctlr_num(const char **p, int n, int64_t *out)
{
	int64_t v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

bool ctlr_time_parse(const char *s, int64_t *us)
{
	int64_t y, mo, d, h, mi, se, frac = 0;
	const char *p = s;
	if (s == NULL || !ctlr_num(&p, 4, &y) || *p++ != '-' || !ctlr_num(&p, 2, &mo) ||
	    *p++ != '-' || !ctlr_num(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!ctlr_num(&p, 2, &h) || *p++ != ':' || !ctlr_num(&p, 2, &mi) || *p++ != ':' ||
	    !ctlr_num(&p, 2, &se))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return false;
	if (*p == '.') {
		int digits = 0;
		p++;
		while (*p >= '0' && *p <= '9') {
			if (digits < 6) {
				frac = frac * 10 + (*p - '0');
				digits++;
			}
			p++;
		}
		if (digits == 0)
			return false;
		while (digits++ < 6)
			frac *= 10;
	}
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int64_t oh, om;
		p++;
		if (!ctlr_num(&p, 2, &oh) || *p++ != ':' || !ctlr_num(&p, 2, &om))
			return false;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return false;
	}
	if (*p != 0)
		return false;
	int64_t secs = ctlr_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
	*us = secs * 1000000 + frac;
	return true;
}

void ctlr_time_format(int64_t us, char *buf, size_t cap)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
}

int64_t ctlr_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool ctlr_cidr4_parse(const char *s, uint32_t *addr, unsigned *len)
{
	char buf[INET_ADDRSTRLEN];
	const char *slash = s ? strchr(s, '/') : NULL;
	if (slash == NULL || (size_t)(slash - s) >= sizeof(buf))
		return false;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = 0;
	struct in_addr in;
	if (inet_pton(AF_INET, buf, &in) != 1)
		return false;
	char *end;
	unsigned long l = strtoul(slash + 1, &end, 10);
	if (slash[1] == 0 || *end != 0 || l > 32)
		return false;
	*addr = ntohl(in.s_addr);
	*len = (unsigned)l;
	return true;
}

uint32_t ctlr_mask4(unsigned len)
{
	return len == 0 ? 0 : ~(uint32_t)0 << (32 - len);
}
