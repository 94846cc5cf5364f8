/*
 * fake_agent: a stand-in for the sluice node agent's CNI endpoint, for the
 * sluice-cni tests only. It speaks cni-shim/AGENT-PROTOCOL.md on a nanomsg
 * REP socket, allocates addresses from 10.22.0.0/16 (gateway 10.22.0.1),
 * and appends one line per request to a journal file ("add NET CID IF",
 * "del ...", "check ...", "gc NET N", "status NET") so tests can assert
 * what the agent was asked, not just what the plugin printed.
 *
 *   fake_agent URL JOURNAL [--die-on OP] [--not-ready] [--dp-not-ready]
 *                          [--refuse-add CODE] [--bad-add-reply KIND]
 *
 * --die-on OP: _exit(3) after receiving the first request with that op,
 * without replying (the "agent killed mid-request" case).
 * --bad-add-reply KIND: answer cni.add with a malformed reply: notjson,
 * badv (wrong protocol version), noips, ipidx (ips[].interface set),
 * badmac, badaddr. The process
 * writes "ready" to stdout once bound, then serves until SIGTERM.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#define FAKE_MAX 4096

struct fake_att {
	bool used;
	char key[600];
	unsigned host;   /* address is 10.22.(host>>8).(host&255) */
};

static struct fake_att fake_atts[FAKE_MAX];
static unsigned fake_next = 2;
static volatile sig_atomic_t fake_stop;

static void fake_on_term(int sig)
{
	(void)sig;
	fake_stop = 1;
}

static const char *fake_s(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void fake_key(const json_t *req, char *out, size_t cap)
{
	snprintf(out, cap, "%s %s %s", fake_s(req, "network"), fake_s(req, "container_id"),
		 fake_s(req, "ifname"));
}

static struct fake_att *fake_find(const char *key)
{
	for (int i = 0; i < FAKE_MAX; i++)
		if (fake_atts[i].used && strcmp(fake_atts[i].key, key) == 0)
			return &fake_atts[i];
	return NULL;
}

static json_t *fake_err(const char *code, const char *msg)
{
	return json_pack("{s:i, s:b, s:s, s:s}", "v", 1, "ok", 0, "code", code, "msg", msg);
}

static json_t *fake_ok(void)
{
	return json_pack("{s:i, s:b}", "v", 1, "ok", 1);
}

int main(int argc, char **argv)
{
	const char *die_on = NULL, *refuse_add = NULL, *bad_add = NULL;
	bool agent_ready = true, dp_ready = true;
	if (argc < 3) {
		fprintf(stderr, "usage: %s URL JOURNAL [options]\n", argv[0]);
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--die-on") == 0 && i + 1 < argc)
			die_on = argv[++i];
		else if (strcmp(argv[i], "--bad-add-reply") == 0 && i + 1 < argc)
			bad_add = argv[++i];
		else if (strcmp(argv[i], "--refuse-add") == 0 && i + 1 < argc)
			refuse_add = argv[++i];
		else if (strcmp(argv[i], "--not-ready") == 0)
			agent_ready = false;
		else if (strcmp(argv[i], "--dp-not-ready") == 0)
			dp_ready = false;
	}
	FILE *journal = fopen(argv[2], "a");
	int s = nn_socket(AF_SP, NN_REP);
	int to = 200;
	if (journal == NULL || s < 0 || nn_bind(s, argv[1]) < 0 ||
	    nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to)) < 0) {
		fprintf(stderr, "fake_agent: cannot start on %s\n", argv[1]);
		return 1;
	}
	signal(SIGTERM, fake_on_term);
	signal(SIGINT, fake_on_term);
	printf("ready\n");
	fflush(stdout);

	while (!fake_stop) {
		void *buf = NULL;
		int n = nn_recv(s, &buf, NN_MSG, 0);
		if (n < 0)
			continue; /* timeout: re-check fake_stop */
		json_t *req = json_loadb(buf, (size_t)n, 0, NULL);
		nn_freemsg(buf);
		const char *op = fake_s(req, "op");
		char key[600];
		fake_key(req, key, sizeof(key));
		if (strcmp(op, "cni.gc") == 0)
			fprintf(journal, "gc %s %zu\n", fake_s(req, "network"),
				json_array_size(json_object_get(req, "valid")));
		else if (strcmp(op, "cni.status") == 0)
			fprintf(journal, "status %s\n", fake_s(req, "network"));
		else if (strcmp(op, "cni.add") == 0)
			fprintf(journal, "add %s %s ports=%zu\n", key, fake_s(req, "mode"),
				json_array_size(json_object_get(req, "port_mappings")));
		else
			fprintf(journal, "%s %s %s\n", strlen(op) > 4 ? op + 4 : op, key,
				fake_s(req, "mode"));
		fflush(journal);
		/* Per-attachment ops must carry the 14-char key (AGENT-PROTOCOL.md "Keys"). */
		if (strncmp(op, "cni.", 4) == 0 && json_object_get(req, "container_id") != NULL &&
		    strlen(fake_s(req, "key")) != 14)
			fprintf(journal, "badkey %s\n", key);
		if (die_on != NULL && strcmp(op, die_on) == 0)
			_exit(3);

		json_t *rep = NULL;
		if (json_integer_value(json_object_get(req, "v")) != 1) {
			rep = fake_err("invalid", "bad protocol version");
		} else if (strcmp(op, "cni.add") == 0) {
			struct fake_att *a = fake_find(key);
			if (refuse_add != NULL) {
				rep = fake_err(refuse_add, "refused by test");
			} else if (a == NULL) {
				for (int i = 0; i < FAKE_MAX && a == NULL; i++)
					if (!fake_atts[i].used)
						a = &fake_atts[i];
				if (a != NULL) {
					a->used = true;
					snprintf(a->key, sizeof(a->key), "%s", key);
					a->host = fake_next++;
				}
			}
			if (rep == NULL && a == NULL) {
				rep = fake_err("try_again", "pool exhausted");
			} else if (rep == NULL) {
				char addr[32];
				snprintf(addr, sizeof(addr), "10.22.%u.%u/16", a->host >> 8,
					 a->host & 255);
				rep = json_pack("{s:i, s:b, s:[{s:s, s:s}], s:[{s:s, s:s}], s:{s:[s], s:[s]}}",
						"v", 1, "ok", 1, "ips", "address", addr, "gateway",
						"10.22.0.1", "routes", "dst", "0.0.0.0/0", "gw",
						"10.22.0.1", "dns", "nameservers", "10.22.0.10", "search",
						"cluster.local");
				/* The agent picks the MAC when there is no kernel interface. */
				if (strcmp(fake_s(req, "mode"), "veth") != 0) {
					char mac[18];
					snprintf(mac, sizeof(mac), "02:22:00:00:%02x:%02x",
						 (a->host >> 8) & 255, a->host & 255);
					json_object_set_new(rep, "mac", json_string(mac));
				}
			}
		} else if (strcmp(op, "cni.del") == 0) {
			struct fake_att *a = fake_find(key);
			if (a != NULL)
				a->used = false;
			rep = fake_ok();
		} else if (strcmp(op, "cni.check") == 0) {
			rep = fake_find(key) ? fake_ok()
					     : fake_err("unknown_container", "no such attachment");
		} else if (strcmp(op, "cni.gc") == 0) {
			const json_t *valid = json_object_get(req, "valid");
			int removed = 0;
			for (int i = 0; i < FAKE_MAX; i++) {
				bool keep = false;
				if (!fake_atts[i].used)
					continue;
				for (size_t j = 0; j < json_array_size(valid) && !keep; j++) {
					char k[600];
					const json_t *v = json_array_get(valid, j);
					snprintf(k, sizeof(k), "%s %s %s", fake_s(req, "network"),
						 fake_s(v, "container_id"), fake_s(v, "ifname"));
					keep = strcmp(k, fake_atts[i].key) == 0;
				}
				if (!keep && strncmp(fake_atts[i].key, fake_s(req, "network"),
						     strlen(fake_s(req, "network"))) == 0) {
					fake_atts[i].used = false;
					removed++;
				}
			}
			rep = json_pack("{s:i, s:b, s:i}", "v", 1, "ok", 1, "removed", removed);
		} else if (strcmp(op, "cni.status") == 0) {
			rep = json_pack("{s:i, s:b, s:b, s:b}", "v", 1, "ok", 1, "agent_ready",
					agent_ready, "dp_ready", dp_ready);
		} else {
			rep = fake_err("invalid", "unknown op");
		}
		if (bad_add != NULL && strcmp(op, "cni.add") == 0) {
			json_decref(rep);
			if (strcmp(bad_add, "notjson") == 0) {
				nn_send(s, "{\"v\":1,\"ok\":tr", 15, 0);
				json_decref(req);
				continue;
			}
			if (strcmp(bad_add, "badv") == 0)
				rep = json_pack("{s:i, s:b, s:[{s:s}]}", "v", 2, "ok", 1, "ips",
						"address", "10.22.9.9/16");
			else if (strcmp(bad_add, "noips") == 0)
				rep = json_pack("{s:i, s:b, s:[]}", "v", 1, "ok", 1, "ips");
			else if (strcmp(bad_add, "ipidx") == 0)
				rep = json_pack("{s:i, s:b, s:[{s:s, s:i}]}", "v", 1, "ok", 1, "ips",
						"address", "10.22.9.9/16", "interface", 0);
			else if (strcmp(bad_add, "badmac") == 0)
				rep = json_pack("{s:i, s:b, s:[{s:s}], s:s}", "v", 1, "ok", 1, "ips",
						"address", "10.22.9.9/16", "mac", "02:22:zz:00:00:01");
			else
				rep = json_pack("{s:i, s:b, s:[{s:s}]}", "v", 1, "ok", 1, "ips",
						"address", "10.22.9.300/16");
		}
		char *txt = json_dumps(rep, JSON_COMPACT);
		nn_send(s, txt, strlen(txt), 0);
		free(txt);
		json_decref(rep);
		json_decref(req);
	}
	nn_close(s);
	fclose(journal);
	return 0;
}
