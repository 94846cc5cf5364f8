/*
 * orch_test: helpers shared by the table-driven tests of tests/orch (after
 * <cmocka.h>).
 */
#ifndef SLUICE_TESTS_ORCH_TEST_H
#define SLUICE_TESTS_ORCH_TEST_H

#include <jansson.h>

/* Parse a JSON literal of a test table; a typo fails the test, naming it. */
static inline json_t *js(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);
	if (v == NULL)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return v;
}

#endif
