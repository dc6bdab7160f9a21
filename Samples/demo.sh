#!/usr/bin/env bash
# Builds procrun, starts the local webhook inbox on 127.0.0.1:8089, runs the sample order flow
# against it, and stops the inbox again.
#   Samples/demo.sh          the order reaches the warehouse accounting system
#   Samples/demo.sh --fail   the system answers 503: 4 tries 2 s apart, notifications, «Завершить»
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
scripts/deps.sh
swift build
bin=.build/debug/procrun
inbox_args=(--port 8089)
if [ "${1:-}" = "--fail" ]; then inbox_args+=(--fail-first 100 --status 503); fi
"$bin" inbox "${inbox_args[@]}" &
inbox=$!
trap 'kill "$inbox" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    if (exec 3<>/dev/tcp/127.0.0.1/8089) 2>/dev/null; then break; fi
    kill -0 "$inbox" 2>/dev/null || exit 2
    sleep 0.1
done
"$bin" Processes/order.bpmn --context Samples/order.json --answers Samples/answers.json --directory Samples/org.json
