#!/usr/bin/env bash
# Give processes and all their descendants the normal scheduling policy
# again (SCHED_OTHER, every thread): make test starts its background groups
# under SCHED_IDLE (TEST_BESIDE_SCHED) and calls this once its foreground
# groups are done, so that what is left runs at full speed on a loaded host.
# Children forked later inherit the policy of their (now normal) parents.
# usage: tools/sched_normal.sh PID...
set -u
[ $# -gt 0 ] || exit 0
for _ in 1 2; do # twice: a child forked while the first pass ran
	ps -e -o pid=,ppid= | awk -v roots="$*" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) want[r[i]] = 1 }
		{ parent[$1] = $2 }
		END {
			do {
				grew = 0
				for (p in parent) if (!(p in want) && (parent[p] in want)) { want[p] = 1; grew = 1 }
			} while (grew)
			for (p in want) print p
		}' | while read -r p; do chrt --other -a -p 0 "$p" > /dev/null 2>&1; done
done
exit 0
