#!/usr/bin/env bash
# One benchmark line for the impaired echo (impaired.sh): the median of
# NET_IMPAIR_RUNS runs (5) of a 4 MB echo with seed NET_IMPAIR_SEED (14),
# appended to OUT as net.NAME with every run and the Linux stacks'
# congestion control (LINUX_CC, set per socket; default: the host's).
#
#   impaired_median.sh OUT floo|linux|webd NAME [LINUX_CC]
set -u
out=$1 mode=$2 name=$3 cc=${4:-}
runs=${NET_IMPAIR_RUNS:-5}
seed=${NET_IMPAIR_SEED:-14}
bmode=host
[ "$mode" = webd ] && bmode=tcg # the server under QEMU's TCG
# Floo's congestion control: floo-demo's --cc in FLOO_DEMO_ARGS, else its default (bbr).
fcc=bbr
case " ${FLOO_DEMO_ARGS:-} " in *" --cc cubic "*) fcc=cubic ;; esac
[ "$mode" = linux ] && fcc=none
defcc=$(cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null || echo unknown)
t=$(FLOO_BENCH_CC=$cc bash "$(dirname "$0")/impaired.sh" "$mode" "$runs" 4000000 "$seed" 2>/dev/null) ||
	{ echo "bench-net: impaired $mode echo failed: $t" >&2; exit 1; }
all=${t##*seconds }
med=$(echo "$all" | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf '{"name":"net.%s","value":%s,"unit":"s","mode":"%s","config":{"client":"linux netns","server":"%s","path":"net-impair between two TAPs","impair":"loss 5%% reorder 10%% dup 2%% delay 1 ms, both ways","linux_cc":"%s","floo_cc":"%s","seed":%s,"runs":%s,"all":"%s","statistic":"median"}}\n' \
	"$name" "$med" "$bmode" "$mode" "${cc:-$defcc}" "$fcc" "$seed" "$runs" "$all" | tee -a "$out"
