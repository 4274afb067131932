#!/usr/bin/env bash
# Bring host tests written on the old runners onto the one harness
# (tests/host/kernel/ktharness.h; issue 11). Mechanical, so a branch written
# against the old macros can be converted after a merge:
#   tools/convert-to-ktharness.sh GROUP FILE...
# GROUP is the TAP prefix the binary's main sets (broker-unit, blk-unit ...).
#
#   old                                   new
#   TEST(name)          (net harness.h)   KT_CASE(name)
#   DT(name)            (dtest.h)         KT_CASE(name)
#   NT_CASE(name)       (nvme_test.h)     KT_CASE(name)
#   DCHECK(c, fmt...)   (dtest.h)         CHECK_MSG(c, fmt...)
#   NT_EXPECT(c, fmt...)(nvme_test.h)     CHECK_MSG(c, fmt...)
#   CHECK(c)            (every runner)    CHECK(c), unchanged
#   t_run("n", fn) / run("n", fn)         kt_add("n", fn)
#   int main(void) ... return X;          int main(int argc, char **argv)
#                                         { kt_group = "GROUP"; ...
#                                           return kt_main(NULL, 0, argc, argv); }
# Headers that defined the old macros now include ktharness.h; a file that
# defined its own CHECK and run() loses them by hand.
set -eu
group=$1
shift
for f in "$@"; do
	sed -i -E \
		-e 's/^(TEST|DT|NT_CASE)\(([A-Za-z0-9_]+)\)$/KT_CASE(\2)/' \
		-e 's/\b(DCHECK|NT_EXPECT)\(/CHECK_MSG(/g' \
		-e 's/^(\t+)(t_)?run\("/\1kt_add("/' \
		-e 's/^#include "(dtest|nvme_test)\.h"$/#include "ktharness.h"/' \
		-e 's/^int main\(void\)$/int main(int argc, char **argv)/' \
		-e '/^int main\(int argc, char \*\*argv\)$/,/^}$/{
			s/^\{$/{\n\tkt_group = "'"$group"'";/
			s/^\treturn (t_failed_checks \? 1 : 0|0|failed != 0|cases_failed != 0);$/\treturn kt_main(NULL, 0, argc, argv);/
		}' "$f"
done
