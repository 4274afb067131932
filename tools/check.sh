#!/bin/bash
# make check: static checks over every C file in the tree (kernel, arch,
# lib, user, hosted, tests, tools), failing on any finding.
#   check.format            clang-format --dry-run --Werror (.clang-format), .c and .h
#   check.cppcheck          cppcheck (tools/check/cppcheck-suppressions.txt)
#   check.clang-tidy        clang-tidy (.clang-tidy, kernel/ and arch/ add their own)
#   check.prototypes        no non-static prototype in a .c file (tools/check_protos.py)
#   check.arch_interface    kernel/ reaches the machine only through include/arch (tools/check_arch.sh)
#   check.readmes_list_every_kernel_file   kernel/README.md and arch/README.md name each file
# and two cases showing that the last two checkers catch what they look for.
# The compile flags of every file come from $B/compile_commands.json
# (tools/compdb.py, made by `make check` before this runs).
#   usage: tools/check.sh [--tap FILE]      (default: TAP lines on stdout only)
set -u
B=${B:-build}
tap=/dev/null
[ "${1:-}" = "--tap" ] && tap=$2
logdir=$B/check
mkdir -p "$logdir"
dirs=(kernel arch lib user hosted tests tools include)
mapfile -t cfiles < <(find "${dirs[@]}" -name '*.c' -not -path '*/fuzz/*/corpus/*' | LC_ALL=C sort)
mapfile -t hfiles < <(find "${dirs[@]}" -name '*.h' | LC_ALL=C sort)
failed=0

# result NAME LOG STATUS: one TAP line; on failure the first findings as comments.
result() {
	if [ "$3" -eq 0 ]; then
		echo "ok - $1" | tee -a "$tap"
	else
		failed=1
		sed -n '1,40s/^/# /p' "$2" | tee -a "$tap"
		echo "# ($(wc -l < "$2") lines in $2)" | tee -a "$tap"
		echo "not ok - $1" | tee -a "$tap"
	fi
}

clang-format --dry-run --Werror "${cfiles[@]}" "${hfiles[@]}" > "$logdir/format.log" 2>&1
result check.format "$logdir/format.log" $?

cppcheck -j 2 --quiet --std=c11 --enable=warning,portability,performance --inline-suppr \
	--error-exitcode=1 --suppress=missingIncludeSystem --suppress=unmatchedSuppression \
	--suppressions-list=tools/check/cppcheck-suppressions.txt \
	--project="$B/compile_commands.json" > "$logdir/cppcheck.log" 2>&1
result check.cppcheck "$logdir/cppcheck.log" $?

# Every .c file, two at a time; headers through HeaderFilterRegex.
printf '%s\n' "${cfiles[@]}" | xargs -P2 -n8 clang-tidy -p "$B" --quiet > "$logdir/clang-tidy.log" 2>&1
st=$?
grep -E ' (warning|error): ' "$logdir/clang-tidy.log" > "$logdir/clang-tidy.findings" || true
[ -s "$logdir/clang-tidy.findings" ] && st=1
result check.clang-tidy "$logdir/clang-tidy.findings" $st

python3 tools/check_protos.py "${cfiles[@]}" > "$logdir/protos.log" 2>&1
result check.prototypes "$logdir/protos.log" $?

bash tools/check_arch.sh > "$logdir/arch.log" 2>&1
result check.arch_interface "$logdir/arch.log" $?

# The folder READMEs name every file of the kernel's folders.
for d in kernel arch/x86_64; do
	readme=${d%%/*}/README.md
	for f in "$d"/*; do
		case $f in */README.md | */.clang-tidy) continue ;; esac
		grep -q "\`${f##*/}\`" "$readme" || echo "$readme does not name ${f##*/}"
	done
done > "$logdir/readmes.log"
[ ! -s "$logdir/readmes.log" ]
result check.readmes_list_every_kernel_file "$logdir/readmes.log" $?

# The checkers must bite: a prototype written in a .c file (file and block
# scope), and an APIC call plus inline assembly in a kernel file.
t=$(mktemp -d)
cat > "$t/proto.c" <<'C'
static int helper(void);
int ipc_send(struct thread *t, void *ep);
void f(void)
{
	bool ntfn_take(struct thread * t);
	(void)helper();
}
C
n=$(python3 tools/check_protos.py "$t/proto.c" 2> /dev/null | grep -c 'prototype of \(ipc_send\|ntfn_take\) ')
[ "$n" = 2 ]
result check.prototypes_finds_file_and_block_scope_prototypes /dev/null $?
mkdir -p "$t/kernel"
printf 'void g(void)\n{\n\tlapic_eoi();\n\t__asm__ volatile("cli");\n}\n' > "$t/kernel/x.c"
n=$(bash tools/check_arch.sh "$t/kernel" 2> /dev/null | grep -c 'x.c:')
[ "$n" = 2 ]
result check.arch_interface_finds_apic_calls_and_inline_asm /dev/null $?
rm -rf "$t"
exit $failed
