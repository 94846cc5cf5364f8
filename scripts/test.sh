#!/usr/bin/env bash
# The README's test command. On a fresh Debian 12 machine, as root:
# installs dependencies, prepares hugepages and bpffs, builds, runs the
# unit, integration and fuzz suites, then the unit suite again under
# ASan+UBSan. The last line is "N passed, N failed".
#   SLUICE_TEST_SUITES="unit fuzz"  run only these suites
#   SLUICE_ASAN=0                   skip the sanitizer pass
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "test.sh: run as root (the integration suite creates network namespaces)" >&2
  exit 2
fi

bash scripts/deps.sh || { echo "test.sh: dependency install failed" >&2; echo "0 passed, 1 failed"; exit 1; }
bash scripts/host-setup.sh

suites=${SLUICE_TEST_SUITES:-"unit integration fuzz"}
suite_args=()
for s in $suites; do suite_args+=(--suite "$s"); done

build() { # dir [meson options...]
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null || return 1
  fi
  echo "test.sh: building $dir"
  ninja -C "$dir" >"$dir.log" 2>&1 || { tail -50 "$dir.log"; return 1; }
}

failed_build=0
rm -f build/meson-logs/testlog.json build-asan/meson-logs/testlog.json
if build build; then
  meson test -C build --no-rebuild --print-errorlogs "${suite_args[@]}" --num-processes 2
else
  echo "test.sh: build failed" >&2; failed_build=1
fi

if [ "${SLUICE_ASAN:-1}" = 1 ] && [[ " $suites " == *" unit "* ]]; then
  if build build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
    meson test -C build-asan --no-rebuild --print-errorlogs --suite unit --num-processes 2
  else
    echo "test.sh: sanitizer build failed" >&2; failed_build=1
  fi
fi

# One summary over both runs, read from meson's machine log.
python3 - "$failed_build" <<'PY'
import json, sys, os
passed = failed = skipped = 0
for d in ("build", "build-asan"):
    p = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(p):
        continue
    for line in open(p):
        r = json.loads(line).get("result", "")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
failed += int(sys.argv[1])
if passed + failed == 0:
    failed = 1  # a run that executed nothing is a failure
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
