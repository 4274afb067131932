#!/usr/bin/env bash
# Time every group of make test, its build and its run apart (docs/testing.md,
# "Where the time goes"): the groups in make test's order, one at a time (the
# background groups too), TEST_JOBS at a time within a group as make test does.
# For each group: the wall and CPU (user + sys of the whole process tree) seconds
# of making its prerequisites, then of running it (test-G). The results land in
# build/results as with make test; the table goes to stdout, make's output to
# stderr, and summarize.py's verdict ends it.
#   usage: tools/test_times.sh [GROUP...]     (default: every group)
set -uo pipefail
J=${TEST_JOBS:-2}
make --no-print-directory deps || exit 1
db=$(mktemp)
tf=$(mktemp)
trap 'rm -f "$db" "$tf"' EXIT
# The rule database, with no goal made.
make -p --no-print-directory -f Makefile -f <(printf 'zz-nothing:\n\t@:\n') zz-nothing > "$db" 2> /dev/null
if [ $# -gt 0 ]; then
	groups="$*"
else
	groups=$(make --no-print-directory -s -f Makefile -f <(printf 'zz-groups:\n\t@echo $(TEST_GROUPS)\n') zz-groups)
fi
rm -rf build/results
mkdir -p build/results
TIMEFORMAT='%R %U %S'
# timed OUT CMD...: CMD's wall and CPU seconds ("W C") into $OUT.
timed() {
	local out=$1
	shift
	{ time "$@" >&3 2>&3; } 3>&2 2> "$tf"
	local rc=$?
	awk '{ printf "%.1f %.1f\n", $1, $2 + $3 }' "$tf" > "$out"
	return $rc
}
t0=$(date +%s)
tot_bw=0 tot_bc=0 tot_rw=0 tot_rc=0
printf '| group | build wall s | build CPU s | run wall s | run CPU s |\n|---|---:|---:|---:|---:|\n'
for g in $groups; do
	pre=$(sed -n "s/^test-$g: *//p" "$db" | head -1)
	echo "0.0 0.0" > "$tf.b"
	[ -n "$pre" ] && timed "$tf.b" make -j"$J" --no-print-directory $pre
	echo "=== test group $g" >&2
	timed "$tf.r" make -j"$J" --no-print-directory test-"$g" ||
		echo "not ok - $g: group exited non-zero" >> build/results/"$g".tap
	read -r bw bc < "$tf.b"
	read -r rw rc < "$tf.r"
	printf '| %s | %s | %s | %s | %s |\n' "$g" "$bw" "$bc" "$rw" "$rc"
	read -r tot_bw tot_bc tot_rw tot_rc < <(awk -v a="$tot_bw $tot_bc $tot_rw $tot_rc" -v b="$bw $bc $rw $rc" \
		'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.1f %.1f %.1f %.1f\n", x[1]+y[1], x[2]+y[2], x[3]+y[3], x[4]+y[4] }')
done
printf '| all (%s s wall in total) | %s | %s | %s | %s |\n' $(($(date +%s) - t0)) "$tot_bw" "$tot_bc" "$tot_rw" "$tot_rc"
rm -f "$tf.b" "$tf.r"
python3 tools/summarize.py build/results
