#!/usr/bin/env bash
# Writes store-v1.sqlite: instances that procrun stored before states named elements by id (state
# format 1, nodes and flows by their index in the loader's arrays), each waiting in another way, and
# store-v1.instances, which names them. Run from anywhere after `swift build` of the commit named in
# SOURCE.md; the tests only ever read a copy of the store.
set -uo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
procrun=$root/.build/debug/procrun
fixtures=Tests/StoreTests/Fixtures
# Nothing listens on this port while the store is made, so webhook tries fail; the test's inbox listens there later.
port=39187
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
store=$work/store.sqlite
sed "s|http://127.0.0.1:8089|http://127.0.0.1:$port|" Samples/order.json >"$work/order.json"
printf '{"url": "http://127.0.0.1:%s", "orderNumber": "ЗК-2026-00418"}\n' "$port" >"$work/waits.json"

# expect CODE COMMAND...: runs procrun with the store, fails unless it exits CODE; prints its stdout.
expect() {
    local code=$1
    shift
    local output
    output=$("$procrun" "$@" --store "$store")
    local got=$?
    if [ "$got" != "$code" ]; then
        echo "procrun $* exited $got, expected $code" >&2
        exit 1
    fi
    printf '%s\n' "$output"
}
order() { expect 4 start Processes/order.bpmn --context "$work/order.json" --directory Samples/org.json --initiator ivanov | head -n 1 | cut -d' ' -f1; }

# In an incident: its only webhook try failed.
incident=$(expect 4 start "$fixtures/waits.bpmn" --context "$work/waits.json" --initiator ivanov | head -n 1 | cut -d' ' -f1)
expect 4 complete "$incident" Task_inner --by ivanov >/dev/null
expect 4 complete "$incident" Task_inner --by ivanov >/dev/null
sleep 1.2
# The worker runs every due job of the store, so the incident comes first, the others after it.
expect 0 worker --until-idle >/dev/null
expect 0 show "$incident" | grep -q "incident" || { echo "no incident" >&2; exit 1; }

# Inside an embedded sub-process at a sequential multi-instance task, with a timer pending beside it.
waiting=$(expect 4 start "$fixtures/waits.bpmn" --context "$work/waits.json" --initiator ivanov | head -n 1 | cut -d' ' -f1)
# At its first user task.
first=$(order)
# At a later user task, after one complete.
later=$(order)
expect 4 complete "$later" Task_accept --by ivanov >/dev/null
# With a webhook retry pending: the first try failed (connection refused), the next is due in 2 s.
retry=$(order)
expect 4 complete "$retry" Task_accept --by ivanov >/dev/null
expect 4 complete "$retry" "Собрать заказ" --by sidorov --set packages=3 >/dev/null
expect 4 complete "$retry" "Выставить счёт" --by petrova --set invoiceNumber='"СЧ-2026-1182"' >/dev/null
sqlite3 "$store" 'PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE; VACUUM;' >/dev/null
cp "$store" "$fixtures/store-v1.sqlite"
printf 'first %s\nlater %s\nretry %s\nwaiting %s\nincident %s\n' "$first" "$later" "$retry" "$waiting" "$incident" >"$fixtures/store-v1.instances"
echo "wrote $fixtures/store-v1.sqlite"
