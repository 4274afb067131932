#!/bin/bash
# The portable kernel reaches the machine only through include/arch/
# (arch/README.md): no inline assembly, and no CR3, MSR, XSAVE, APIC,
# IOAPIC, PIC or HPET access in kernel/ or include/kernel/. Prints each
# breach as file:line and exits 1 if there is any.
#   usage: tools/check_arch.sh [DIR...]   (default: kernel include/kernel)
set -u
dirs=("$@")
[ ${#dirs[@]} -eq 0 ] && dirs=(kernel include/kernel)
# Comments and string literals are blanked first, so prose may name them.
pattern='__asm__|\basm[[:space:]]*(\(|volatile|goto)|\b(lapic|ioapic|hpet|pic|pit)_[a-z_0-9]+[[:space:]]*\(|\b(read_cr[0-4]|write_cr[0-4]|rdmsr|wrmsr|invlpg)[[:space:]]*\(|\bMSR_[A-Z_]+|#[[:space:]]*include[[:space:]]*<arch/(apic|platform|acpi)\.h>'
bad=0
while IFS= read -r f; do
	hits=$(sed -E 's#//.*$##; s#"([^"\\]|\\.)*"#""#g' "$f" |
		perl -0pe 's{/\*.*?\*/}{ my $c = $&; $c =~ s/[^\n]//g; $c }gse' |
		grep -nE "$pattern")
	if [ -n "$hits" ]; then
		sed "s#^#$f:#" <<< "$hits"
		bad=1
	fi
done < <(find "${dirs[@]}" -name '*.[ch]' | sort)
[ $bad -eq 0 ] || echo "check_arch: the portable kernel touches the machine directly; use include/arch/arch.h" >&2
exit $bad
