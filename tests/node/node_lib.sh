# tests/node/node_lib.sh: helpers the node tests share (sourced).
# Needs: DIR (scratch dir), and for api(): API_CA, API_CERT, API_KEY, API_URL
# and API_NS (the netns the API is reachable from, "" = here).

pretty() { echo -e "\x1b[32m\x1b[1m[+] ${1}:\x1b[0m ${2}"; }

# fail MSG: print the tails of every log in $DIR and exit 1.
fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$DIR"/*.log; do
    [ -f "$f" ] && grep -v "libbpf\|libxdp" "$f" | tail -25 | sed "s|^|  $(basename "$f"): |" >&2
  done
  exit 1
}

# api_curl NS URL METHOD PATH BODY OUT: one request with the client cert
# API_CERT/API_KEY against API_CA, run in netns NS ("" = here); the body
# goes to OUT; prints the HTTP status (000 when nothing answered).
api_curl() {
  local pre=() code
  [ -n "$1" ] && pre=(ip netns exec "$1")
  code=$("${pre[@]}" curl -sS -o "$6" -w '%{http_code}' --max-time 10 --cacert "$API_CA" \
    --cert "$API_CERT" --key "$API_KEY" -X "$3" -H 'Content-Type: application/json' \
    ${5:+--data-binary "$5"} "$2$4" 2>/dev/null) || code=000
  echo "$code"
}

# api METHOD PATH [JSON]: one API request to API_URL from API_NS; prints
# the body, fails on >= 400 unless API_OK_CODES lists the code.
api() {
  local code out
  out=$(mktemp "$DIR/api.XXXXXX")
  code=$(api_curl "${API_NS:-}" "$API_URL" "$1" "$2" "${3:-}" "$out")
  api_result "$out" "$code"
}

# api_result OUT CODE: print and remove OUT; 0 for a code < 400 or one
# listed in API_OK_CODES.
api_result() {
  cat "$1"; rm -f "$1"
  case " ${API_OK_CODES:-} " in *" $2 "*) return 0 ;; esac
  [ "$2" != 000 ] && [ "$2" -lt 400 ]
}

# jq-like: jget EXPR reads JSON on stdin, prints eval(EXPR) with d bound.
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); v=eval(sys.argv[1]); print(v if not isinstance(v,(dict,list)) else json.dumps(v))' "$1"; }

# poll_until SECONDS DESCRIPTION COMMAND...: run COMMAND every 0.25 s
# until it succeeds; 1 with a line on stderr on timeout.
poll_until() {
  local t=$1 what=$2 i
  shift 2
  for i in $(seq $((t * 4))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  echo "timed out after ${t}s waiting for $what" >&2
  return 1
}

# wait_for: poll_until, failing the test on timeout.
wait_for() { poll_until "$@" || fail "timed out after ${1}s waiting for $2"; }

# pod_json NS NAME NODE RESTART CMD...: a Pod bound to NODE running CMD.
pod_json() {
  local ns=$1 name=$2 node=$3 restart=$4
  shift 4
  python3 - "$ns" "$name" "$node" "$restart" "$@" <<'PY'
import json, sys
ns, name, node, restart, *cmd = sys.argv[1:]
spec = {"containers": [{"name": "main", "image": "local", "command": cmd}],
        "restartPolicy": restart, "terminationGracePeriodSeconds": 2}
if node:
    spec["nodeName"] = node
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": name, "namespace": ns, "labels": {"test": "node"}},
                  "spec": spec}))
PY
}

# pod_field NS NAME EXPR: eval EXPR on the pod (d), "" if absent.
pod_field() {
  api GET "/api/v1/namespaces/$1/pods/$2" | jget "$3" 2>/dev/null
}
