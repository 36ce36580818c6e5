#!/usr/bin/env bash
# The Python client's tests, as CI runs them: build agenttrust serve once,
# run every test against it and the broken-server fakes, and fail if any
# test failed or was skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$repo" && go build -o "$tmp/agenttrust" ./cmd/agenttrust)
export AGENTTRUST_BIN="$tmp/agenttrust"

cd "$here"
status=0
"$python" -m unittest discover -v -s tests -t . >"$tmp/log" 2>&1 || status=$?
tail -n 4 "$tmp/log"
if [ "$status" -ne 0 ]; then
  grep -E '^(FAIL|ERROR):' "$tmp/log" | head -40 || true
  grep -A30 -E '^(FAIL|ERROR):' "$tmp/log" | head -150 || true
  echo "FAIL: the Python client's tests"
  exit 1
fi
if grep -q -E "skipped|expected failures" "$tmp/log"; then
  grep -E "skipped" "$tmp/log" | head -20
  echo "FAIL: Python client tests skipped"
  exit 1
fi
echo "Python client: $(grep -c -E ' \.\.\. ok$' "$tmp/log") tests passed, 0 skipped"
