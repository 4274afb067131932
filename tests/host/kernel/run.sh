#!/usr/bin/env bash
# Run host test binaries and collect their TAP lines.
# usage: [KT_TIMEOUT=S] [KT_JOBS=N] run.sh OUT.tap LOGDIR BINARY...
# A binary that exits non-zero, dies, hangs (KT_TIMEOUT, 20 s) or prints no
# result adds "not ok - GROUP.<binary>_exit_status" (GROUP: OUT.tap's name
# without .tap); its stderr (sanitizer reports) is in LOGDIR.
set -u
tap=$1 logs=$2 group=$(basename "$1" .tap)
shift 2
mkdir -p "$logs"
: > "$tap"
# The binaries run KT_JOBS at a time (default 2: each runs its cases one by
# one, so a binary keeps one CPU); their lines are gathered in argument order.
one() {
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
		timeout "${KT_TIMEOUT:-20}" "$1" > "$2.out" 2> "$2.err"
	echo $? > "$2.rc"
}
n=0
for bin in "$@"; do
	rm -f "$logs/$(basename "$bin").rc"
	one "$bin" "$logs/$(basename "$bin")" &
	n=$((n + 1))
	if [ $n -ge "${KT_JOBS:-2}" ]; then
		wait -n
		n=$((n - 1))
	fi
done
wait
for bin in "$@"; do
	name=$(basename "$bin")
	out="$logs/$name.out" err="$logs/$name.err"
	rc=$(cat "$logs/$name.rc" 2> /dev/null || echo 255)
	cat "$out" >> "$tap"
	if [ $rc -ne 0 ] || ! grep -q '^ok - \|^not ok - ' "$out"; then
		echo "# $name: exit status $rc, stderr in $err" >> "$tap"
		echo "not ok - $group.${name}_exit_status" >> "$tap"
	fi
done
grep -v '^ok - ' "$tap" || true
echo "$group: $(grep -c '^ok - ' "$tap") ok, $(grep -c '^not ok - ' "$tap") not ok"
exit 0
