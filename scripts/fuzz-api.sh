#!/usr/bin/env bash
# Fuzzes `procrun serve`'s HTTP API with schemathesis (PyPI) against its own OpenAPI document, for
# a bounded number of generated requests per operation: any 500, schema violation, wrong status
# or undeclared method answered wrongly fails the run. `.ci/run` calls it after the tests.
#   scripts/fuzz-api.sh [EXAMPLES]     (default 25 per operation; the built debug binary)
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-25}"
binary="${PROCRUN:-.build/debug/procrun}"
[ -x "$binary" ] || { echo "fuzz-api: $binary is missing (swift build first)" >&2; exit 2; }
command -v schemathesis >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check schemathesis
work="$(mktemp -d)"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
echo "fuzz-api-password" | "$binary" users add admin --role admin --users "$work/users.json" >/dev/null
token="$("$binary" users token admin --users "$work/users.json")"
"$binary" serve --port 0 --store "$work/store.sqlite" --users "$work/users.json" --workers 0 \
    --directory Samples/org.json >"$work/out" 2>"$work/log" &
server=$!
for _ in $(seq 1 300); do
    url="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/out" || true)"
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || { echo "fuzz-api: serve did not start" >&2; cat "$work/log" >&2; exit 1; }
# Something to find: the order process and one waiting instance.
curl -sf -X POST -H "Authorization: Bearer $token" --data-binary @Processes/order.bpmn \
    "$url/api/definitions?file=order.bpmn" >/dev/null
curl -sf -X POST -H "Authorization: Bearer $token" -d '{"processId": "order", "variables": {"orderNumber": "F-1"}}' \
    "$url/api/instances" >/dev/null
common=(--header "Authorization: Bearer $token" --max-examples "$examples" --seed 1 --no-color)
status=0
# Every operation and every check; deploying is checked apart: a body the schema allows (any
# bytes) is rightly refused unless it is BPMN, so "schema-valid data is accepted" cannot hold.
schemathesis run "$url/api/openapi.json" "${common[@]}" --checks all --exclude-operation-id deploy || status=1
schemathesis run "$url/api/openapi.json" "${common[@]}" --checks all --include-operation-id deploy \
    --exclude-checks positive_data_acceptance || status=1
if grep -q 'status=500' "$work/log"; then
    echo "fuzz-api: the server answered 500:" >&2
    grep -B2 'status=500' "$work/log" >&2
    status=1
fi
exit "$status"
