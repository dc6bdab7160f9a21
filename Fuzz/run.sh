#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer and AddressSanitizer and runs each for a bounded time.
#
#   Fuzz/run.sh [TARGET...] [--seconds N] [--max-len N] [-- LIBFUZZER_FLAG...]
#
# TARGET is loader, feel, template or json (default: all four, one after the other); N is the
# time per target (default 60 s). Everything the run writes goes under .build-fuzz/ (git-ignored):
# the build, the grown corpus (.build-fuzz/corpus/TARGET, reused by the next run), logs and crash
# files (.build-fuzz/artifacts/TARGET/). The committed seeds in Fuzz/corpus/TARGET are only read.
# Exits 1 when a target crashed, trapped, timed out or ran out of memory, after naming the input.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

all_targets=(loader feel template json)
# Longest input libFuzzer may make, per target. The seeds stay below these (Fuzz/seeds.py).
# Expressions have a nesting limit and JSON objects build in linear time, so the caps only keep
# each execution fast; the loader needs room for real models (Processes/order.bpmn is 11 kB).
declare -A max_len=([loader]=16384 [feel]=4096 [template]=4096 [json]=8192)

seconds=60
override_len=""
targets=()
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --max-len) override_len="$2"; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        loader|feel|template|json) targets+=("$1"); shift ;;
        *) echo "Fuzz/run.sh: unknown argument '$1' (targets: ${all_targets[*]})" >&2; exit 2 ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

work=.build-fuzz
echo "== building procrun-fuzz with libFuzzer and ASan in $work/"
start=$(date +%s)
# -D FUZZING drops the replay `main` (Fuzz/Target/Entry.swift); the linker flags keep libFuzzer's
# driver, which SwiftPM's own `main` hands over to.
swift build -c release --scratch-path "$work" --product procrun-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -D -Xswiftc FUZZING -Xswiftc -use-ld=lld \
    -Xlinker --undefined=LLVMFuzzerRunDriver -Xlinker --export-dynamic-symbol=LLVMFuzzerRunDriver
echo "== built in $(( $(date +%s) - start )) s"
binary="$work/release/procrun-fuzz"

failed=()
for target in "${targets[@]}"; do
    corpus="$work/corpus/$target"
    artifacts="$work/artifacts/$target"
    log="$work/logs/$target.log"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    len="${override_len:-${max_len[$target]}}"
    echo "== $target: $seconds s, inputs up to $len bytes"
    status=0
    # The first corpus folder receives new inputs; the committed seeds are only read.
    PROCRUN_FUZZ_TARGET="$target" "$binary" \
        -max_total_time="$seconds" -max_len="$len" -timeout=10 -rss_limit_mb=2048 \
        -dict="Fuzz/dict/$target.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
        ${extra[@]+"${extra[@]}"} "$corpus" "Fuzz/corpus/$target" >"$log" 2>&1 || status=$?
    grep -E '^Done [0-9]+ runs' "$log" || true
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        echo "!! $target failed (exit $status); the end of $log:"
        tail -n 40 "$log"
        found=$(ls -t "$artifacts" 2>/dev/null | head -1 || true)
        if [ -n "$found" ]; then
            echo "!! input: $artifacts/$found"
            echo "!! reproduce: PROCRUN_FUZZ_TARGET=$target $binary $artifacts/$found"
            echo "!!   or without libFuzzer: swift run procrun-fuzz $target $artifacts/$found"
        fi
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "== fuzzing found a problem in: ${failed[*]}"
    exit 1
fi
echo "== fuzzing: no crash, hang or leak of memory in ${targets[*]}"
