/*
 * test_cli_manifest: manifests into JSON objects. Numbered table-driven
 * cases: each input either yields exactly the expected JSON array, or
 * fails with a message containing the expected "file:line:col" and words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"

struct ok_case {
	const char *yaml;
	const char *json; /* expected array */
};

static const struct ok_case ok_cases[] = {
	/* 0: one document, types by the core schema */
	{"kind: Pod\nmetadata: {name: a}\nspec:\n  n: 3\n  f: 1.5\n  t: true\n  z: null\n"
	 "  s: \"3\"\n  q: 'true'\n  e: ~\n  h: 0x1f\n  big: 123456789012345678901234\n"
	 "  ver: 1.2.3\n  neg: -7\n",
	 "[{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"},\"spec\":{\"n\":3,\"f\":1.5,\"t\":true,"
	 "\"z\":null,\"s\":\"3\",\"q\":\"true\",\"e\":null,\"h\":31,"
	 "\"big\":\"123456789012345678901234\",\"ver\":\"1.2.3\",\"neg\":-7}}]"},
	/* 1: several documents, empty ones skipped, leading --- */
	{"---\nkind: A\n---\n---\nkind: B\n...\n---\n# only a comment\n---\nkind: C\n",
	 "[{\"kind\":\"A\"},{\"kind\":\"B\"},{\"kind\":\"C\"}]"},
	/* 2: a List contributes its items */
	{"kind: List\nitems:\n- {kind: A}\n- {kind: B}\n---\nkind: C\n",
	 "[{\"kind\":\"A\"},{\"kind\":\"B\"},{\"kind\":\"C\"}]"},
	/* 3: JSON, several concatenated objects, tabs allowed */
	{"{\"kind\":\"A\",\n\t\"n\": 1}\n{\"kind\": \"B\"}",
	 "[{\"kind\":\"A\",\"n\":1},{\"kind\":\"B\"}]"},
	/* 4: anchors and aliases are deep copies */
	{"kind: A\nx: &l {app: web}\ny: *l\n", "[{\"kind\":\"A\",\"x\":{\"app\":\"web\"},"
	 "\"y\":{\"app\":\"web\"}}]"},
	/* 5: explicit tags */
	{"kind: A\ns: !!str 42\ni: !!int \"7\"\nb: !!bool true\n",
	 "[{\"kind\":\"A\",\"s\":\"42\",\"i\":7,\"b\":true}]"},
	/* 6: block scalars keep their text */
	{"kind: A\ncmd: |\n  echo hi\n  exit 0\nf: >\n  a\n  b\n",
	 "[{\"kind\":\"A\",\"cmd\":\"echo hi\\nexit 0\\n\",\"f\":\"a b\\n\"}]"},
	/* 7: sequences of mappings, nested */
	{"kind: A\nl:\n- name: x\n  ports:\n  - 1\n  - 2\n- name: y\n",
	 "[{\"kind\":\"A\",\"l\":[{\"name\":\"x\",\"ports\":[1,2]},{\"name\":\"y\"}]}]"},
	/* 8: non-string keys become strings */
	{"kind: A\nm: {1: one, true: yes}\n", "[{\"kind\":\"A\",\"m\":{\"1\":\"one\","
	 "\"true\":\"yes\"}}]"},
	/* 9: a JSON List */
	{"{\"kind\":\"List\",\"items\":[{\"kind\":\"A\"}]}", "[{\"kind\":\"A\"}]"},
};

struct bad_case {
	const char *text;
	const char *want1, *want2; /* substrings of the message */
};

static const struct bad_case bad_cases[] = {
	/* 0: bad indentation: libyaml's own problem text, with position */
	{"kind: A\nmetadata:\n  name: a\n bad: 1\n", "m.yaml:4:", "expected"},
	/* 1: tab indentation */
	{"kind: A\nspec:\n\tn: 1\n", "m.yaml:3:", "tab"},
	/* 2: unterminated flow mapping */
	{"kind: A\nx: {a: 1\n", "m.yaml:", "flow"},
	/* 3: a document that is not a mapping, with its number */
	{"kind: A\n---\n- 1\n- 2\n", "document 2", "not a mapping"},
	/* 4: duplicate keys are refused, with the key and the line */
	{"kind: A\nmetadata: {}\nkind: B\n", "m.yaml:3:", "duplicate key \"kind\""},
	/* 5: unknown alias */
	{"kind: A\nx: *nope\n", "m.yaml:2:4", "unknown anchor \"nope\""},
	/* 6: bad JSON: jansson's line and column */
	{"{\"kind\": \"A\",\n \"x\": }\n", "m.yaml:2:7", "unexpected token"},
	/* 7: nothing at all */
	{"# just a comment\n", "no objects", NULL},
	/* 8: mapping as key */
	{"kind: A\n? {a: 1}\n: v\n", "m.yaml:2:", "key must be a scalar"},
	/* 9: !!int that is not */
	{"kind: A\nn: !!int abc\n", "m.yaml:2:4", "!!int \"abc\""},
	/* 10: billion laughs stays bounded */
	{"a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	 "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	 "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	 "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n", "aliases expand", NULL},
	/* 11: List items must be objects */
	{"kind: List\nitems: [1]\n", "items[0]", NULL},
	/* 12: JSON array at top level is not an object */
	{"{\"kind\":\"A\"}\n[1]", "m.yaml:2: document 2", "not an object"},
};

static void test_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		json_t *docs = NULL;
		char err[512] = "";
		int rc = cli_manifest_parse(ok_cases[i].yaml, strlen(ok_cases[i].yaml), "m.yaml",
					    &docs, err, sizeof(err));
		if (rc != 0)
			fail_msg("ok case %zu: %s", i, err);
		json_t *want = json_loads(ok_cases[i].json, 0, NULL);
		assert_non_null(want);
		if (!json_equal(docs, want)) {
			char *got = json_dumps(docs, JSON_COMPACT);
			fail_msg("ok case %zu: got %s", i, got);
		}
		json_decref(want);
		json_decref(docs);
	}
}

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		json_t *docs = (json_t *)1;
		char err[512] = "";
		int rc = cli_manifest_parse(bad_cases[i].text, strlen(bad_cases[i].text), "m.yaml",
					    &docs, err, sizeof(err));
		if (rc != CLI_EXIT_USAGE)
			fail_msg("bad case %zu: rc %d", i, rc);
		assert_null(docs);
		if (strstr(err, bad_cases[i].want1) == NULL ||
		    (bad_cases[i].want2 && strstr(err, bad_cases[i].want2) == NULL))
			fail_msg("bad case %zu: message \"%s\" lacks \"%s\"/\"%s\"", i, err,
				 bad_cases[i].want1, bad_cases[i].want2 ? bad_cases[i].want2 : "");
		/* One line, for the one-line error convention. */
		assert_null(strchr(err, '\n'));
	}
}

static void test_load_file(void **state)
{
	(void)state;
	char path[] = "/tmp/sluice-manifest-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "kind: A\n---\nkind: B\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	json_t *docs;
	char err[512];
	assert_int_equal(cli_manifest_load(path, &docs, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(docs), 2);
	json_decref(docs);
	unlink(path);
	assert_int_equal(cli_manifest_load(path, &docs, err, sizeof(err)), CLI_EXIT_USAGE);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
}

static void test_nul_byte(void **state)
{
	(void)state;
	json_t *docs;
	char err[512];
	const char text[] = "kind: A\n\0kind: B\n";
	assert_int_equal(cli_manifest_parse(text, sizeof(text) - 1, "x", &docs, err, sizeof(err)),
			 CLI_EXIT_USAGE);
	assert_non_null(strstr(err, "NUL"));
}

/* Round trip: what -o yaml prints reads back as the same JSON. */
static void test_yaml_round_trip(void **state)
{
	(void)state;
	const char *src = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"labels\":{\"v\":\"1.0\","
			  "\"t\":\"true\",\"e\":\"\",\"n\":\"null\",\"y\":\"yes\"}},"
			  "\"spec\":{\"n\":3,\"f\":2.5,\"b\":false,\"z\":null,\"l\":[1,\"two\","
			  "{\"x\":\"a: b\"}],\"m\":\"line1\\nline2\",\"u\":\"caf\\u00e9\"}}";
	json_t *v = json_loads(src, 0, NULL);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	assert_int_equal(cli_print_yaml(f, v), 0);
	fclose(f);
	json_t *docs;
	char err[512];
	if (cli_manifest_parse(out, len, "out", &docs, err, sizeof(err)) != 0)
		fail_msg("%s\n%s", err, out);
	if (!json_equal(json_array_get(docs, 0), v))
		fail_msg("round trip differs:\n%s", out);
	json_decref(docs);
	json_decref(v);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_yaml_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
