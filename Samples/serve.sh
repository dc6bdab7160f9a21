#!/usr/bin/env bash
# Builds procrun and serves the sample order process to a team: the web pages and the API on
# http://127.0.0.1:8080 (PORT=… to change), the sample people with their passwords, one order
# waiting for the sales clerk, and the inbox on 127.0.0.1:8089 as the warehouse accounting
# system. Ctrl-C stops both. The store and users live in .procrun/sample/ (kept between runs).
#   Samples/serve.sh          the warehouse system answers 200: the order ends «Заказ выполнен»
#   Samples/serve.sh --fail   it answers 503: four tries, notifications, «Завершить»
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
scripts/deps.sh
swift build --product procrun
bin=.build/debug/procrun
port="${PORT:-8080}"
folder=.procrun/sample
store="$folder/procrun.sqlite"
users="$folder/users.json"
mkdir -p "$folder"
# The people of Samples/org.json, password "procrun-<id>"; admin is the administrator.
if [ ! -f "$users" ]; then
    for person in ivanov kozlov sidorov smirnova petrova; do
        echo "procrun-$person" | "$bin" users add "$person" --users "$users" >/dev/null
    done
    echo "procrun-admin" | "$bin" users add admin --role admin --users "$users" >/dev/null
fi
inbox_args=(--port 8089)
if [ "${1:-}" = "--fail" ]; then inbox_args+=(--fail-first 1000 --status 503); fi
"$bin" inbox "${inbox_args[@]}" >"$folder/inbox.log" 2>&1 &
inbox=$!
trap 'kill "$inbox" 2>/dev/null || true' EXIT
"$bin" deploy Processes/order.bpmn --store "$store" >/dev/null
# One order waiting for the sales clerk (ivanov or kozlov) to accept it.
order=$("$bin" start Processes/order.bpmn --store "$store" --context Samples/order.json \
    --directory Samples/org.json --initiator ivanov | head -n 1 | cut -d' ' -f1) || true
cat <<TEXT
procrun serves http://127.0.0.1:$port — log in as:
  ivanov / procrun-ivanov      sales («Отдел продаж»): accepts the order ($order)
  sidorov / procrun-sidorov    warehouse («Склад»): assembles it
  petrova / procrun-petrova    accounting («Бухгалтерия»): invoices it (add invoiceNumber=…)
  admin / procrun-admin        administrator: incidents, deploying
The warehouse system is the inbox on 127.0.0.1:8089 (its log: $folder/inbox.log). Ctrl-C stops.
TEXT
"$bin" serve --port "$port" --store "$store" --users "$users" --directory Samples/org.json &
server=$!
# Ctrl-C or a kill of this script stops the server (it drains) and the inbox.
trap 'kill "$server" "$inbox" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT INT TERM
wait "$server"
