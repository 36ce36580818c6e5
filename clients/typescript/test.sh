#!/usr/bin/env bash
# The TypeScript client's checks, as CI runs them: install exactly the
# lock file's tools, typecheck (tsc --strict), hold the generated types
# to api/openapi.yaml, build, and run every test against a real
# `agenttrust serve` (built here once) and the fake servers. Fails if
# any test failed, was skipped, or was left todo.
set -euo pipefail
cd "$(dirname "$0")"
echo "== the TypeScript client (clients/typescript): tsc --strict, types held to api/openapi.yaml, tests against serve and broken servers"

npm ci --no-audit --no-fund --loglevel=error
npm run --silent typecheck
npm run --silent drift
npm run --silent build

bin_dir=$(mktemp -d)
trap 'rm -rf "$bin_dir"' EXIT
(cd ../.. && go build -o "$bin_dir/agenttrust" ./cmd/agenttrust)
export AGENTTRUST_BIN="$bin_dir/agenttrust"

log="$bin_dir/test.log"
if ! node --test dist/test/*.test.js >"$log" 2>&1; then
  grep -E '^\s*not ok|^# ' "$log" || true
  grep -A30 -E '^\s*not ok' "$log" | head -120
  echo "FAIL: TypeScript client tests"
  exit 1
fi
summary=$(grep -E '^# (tests|pass|fail|cancelled|skipped|todo) ' "$log" | tr '\n' ' ')
echo "TypeScript client: $summary"
tests=$(awk '$1 == "#" && $2 == "tests" { print $3 }' "$log")
pass=$(awk '$1 == "#" && $2 == "pass" { print $3 }' "$log")
if [ "${tests:-0}" -eq 0 ] || [ "$pass" != "$tests" ]; then
  echo "FAIL: TypeScript client tests: $pass of ${tests:-0} passed"
  exit 1
fi
for k in fail cancelled skipped todo; do
  n=$(awk -v k="$k" '$1 == "#" && $2 == k { print $3 }' "$log")
  if [ "${n:-x}" != 0 ]; then
    echo "FAIL: TypeScript client tests: $k = ${n:-missing}"
    exit 1
  fi
done
