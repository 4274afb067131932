#!/usr/bin/env bash
# Run one libFuzzer target and append its TAP line (mk/fuzz.mk, issue 11).
# usage: fuzz_run.sh TAP NAME BINARY SECONDS WORKDIR SEEDS [LIBFUZZER-OPTION...]
# New inputs go to WORKDIR/corpus, never to SEEDS (the committed seeds; "-"
# for none); crash inputs are WORKDIR/crash-*, the output WORKDIR/log.
# Exits 1 when the fuzzer found a crash, a leak, a timeout or could not run.
set -u
tap=$1 name=$2 bin=$3 secs=$4 work=$5 seeds=$6
shift 6
mkdir -p "$work/corpus" "$(dirname "$tap")"
dirs=("$work/corpus")
[ "$seeds" != - ] && dirs+=("$seeds")
# -timeout: one input may take 10 s; the outer timeout only guards a fuzzer
# that stops answering.
timeout $((secs + 300)) "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$work/crash-" "$@" "${dirs[@]}" > "$work/log" 2>&1
rc=$?
runs=$(grep -o 'Done [0-9]* runs' "$work/log" | tail -1)
if [ $rc = 0 ]; then
	echo "ok - $name ($secs s, ${runs:-no run count})" >> "$tap"
else
	grep -E '^==[0-9]+==ERROR|^SUMMARY' "$work/log" | head -3 | sed 's/^/# /' >> "$tap"
	echo "not ok - $name (exit $rc, see $work/log)" >> "$tap"
fi
exit $((rc != 0))
