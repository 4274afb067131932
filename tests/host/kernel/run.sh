#!/usr/bin/env bash
# Run host test binaries and collect their TAP lines.
# usage: [KT_TIMEOUT=S] run.sh OUT.tap LOGDIR BINARY...
# A binary that exits non-zero, dies, hangs (KT_TIMEOUT, 20 s) or prints no
# result adds "not ok - GROUP.<binary>_exit_status" (GROUP: OUT.tap's name
# without .tap); its stderr (sanitizer reports) is in LOGDIR.
set -u
tap=$1 logs=$2 group=$(basename "$1" .tap)
shift 2
mkdir -p "$logs"
: > "$tap"
for bin in "$@"; do
	name=$(basename "$bin")
	out="$logs/$name.out" err="$logs/$name.err"
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
		timeout "${KT_TIMEOUT:-20}" "$bin" > "$out" 2> "$err"
	rc=$?
	cat "$out" >> "$tap"
	if [ $rc -ne 0 ] || ! grep -q '^ok - \|^not ok - ' "$out"; then
		echo "# $name: exit status $rc, stderr in $err" >> "$tap"
		echo "not ok - $group.${name}_exit_status" >> "$tap"
	fi
done
grep -v '^ok - ' "$tap" || true
echo "$group: $(grep -c '^ok - ' "$tap") ok, $(grep -c '^not ok - ' "$tap") not ok"
exit 0
