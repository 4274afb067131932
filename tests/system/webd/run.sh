#!/usr/bin/env bash
# webd (user/apps/webd) in QEMU behind user-mode networking, driven from the
# host over forwarded loopback ports with curl and python3 (client.py):
# static files byte for byte, HEAD, 404, keep-alive over one connection,
# /bytes/1000000, pipelining, malformed requests, echo, discard; a silent
# keep-alive connection during which webd sleeps in the kernel's timed wait;
# then the counter line webd prints (zero bytes copied on receive). Then a second boot
# that takes its address by DHCP and polls, and a third on a TAP device in a
# private namespace (checksum offload on; needs root, else skipped):
# /bytes/10000000, 1,000 concurrent connections, malformed frames from the
# wire. Writes TAP lines to $1.
#
#   curl/python3 -> 127.0.0.1:P -> QEMU slirp -> virtio-net -> webd (10.0.2.15:80, 7, 9)
#
# No root needed (no TAP, no namespace). QEMU is stopped by the EXIT trap.
set -u
out=${1:-/dev/stdout}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
log=$(mktemp -d /tmp/webd-test.XXXXXX)
keep=${WEBD_LOGS:-$root/build/results/logs}
www=$root/user/apps/webd/www
qemu_pgid=
: > "$out"

tap_line() { echo "$1" >> "$out"; echo "$1"; }
ok() { tap_line "ok - webd: $1"; }
notok() { tap_line "not ok - webd: $1"; }
check() { # check NAME CMD...
	local name=$1; shift
	if "$@" > "$log/last" 2>&1; then ok "$name"; grep '^# ' "$log/last"; else notok "$name"; sed 's/^/#   /' "$log/last" | tail -8; fi
}
stop_qemu() {
	[ -n "$qemu_pgid" ] || return 0
	kill -TERM -- "-$qemu_pgid" 2>/dev/null
	wait "$qemu_pgid" 2>/dev/null
	qemu_pgid=
}
ns="hwd$$"
tap="hwdt$$"
tap=${tap:0:15}
cleanup() {
	stop_qemu
	ip netns del "$ns" 2>/dev/null
	mkdir -p "$keep" && cp "$log"/*.log "$keep"/ 2>/dev/null
	rm -rf "$log"
}
trap cleanup EXIT

# Three free loopback ports (bound and released: a small race with other programs).
read -r http echo discard < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')

# Boot INITRD with the forwards; NAME names the logs. Returns once webd is ready.
start_qemu() { # NAME INITRD [NIC-MODEL]
	setsid python3 "$root/tools/qemu_run.py" --name "$1" --kernel "$root/build/hallows.elf" \
		--initrd "$2" --append "" --smp 1 --want hang --timeout 300 \
		--log "$log/$1.serial.log" --echo \
		--qemu-arg=-netdev --qemu-arg="user,id=n0,hostfwd=tcp:127.0.0.1:$http-:80,hostfwd=tcp:127.0.0.1:$echo-:7,hostfwd=tcp:127.0.0.1:$discard-:9" \
		--qemu-arg=-device --qemu-arg="${3:-virtio-net-pci},netdev=n0" > "$log/$1.log" 2>&1 &
	qemu_pgid=$!
	for _ in $(seq 1200); do # 120 s: TCG on a loaded host
		grep -q '^webd: ready on ' "$log/$1.log" 2>/dev/null && return 0
		grep -q '^webd: .*\(failed\|not understood\|no network\)' "$log/$1.log" 2>/dev/null && break
		sleep 0.1
	done
	tail -5 "$log/$1.log"
	return 1
}

url=http://127.0.0.1:$http
if ! start_qemu webd "$root/build/initrd-webd-test.cpio"; then
	notok "webd boots and reports ready"
	exit 0
fi
ok "webd boots and reports ready"

same_bytes() { # URL FILE
	curl -sS --max-time 30 -o "$log/body" "$1" && cmp "$log/body" "$2"
}
check "GET / is www/index.html byte for byte" same_bytes "$url/" "$www/index.html"
python3 "$here/blob.py" > "$log/blob.bin"
check "GET /blob.bin (300 KB, every byte value) byte for byte" same_bytes "$url/blob.bin" "$log/blob.bin"
check "GET /docs/ is the directory's index.html" same_bytes "$url/docs/" "$www/docs/index.html"
check "content types: text/html, text/css, text/plain, application/octet-stream" bash -c "
	curl -sS -w '%{content_type}\n' -o /dev/null $url/ -o /dev/null $url/style.css -o /dev/null $url/hello.txt -o /dev/null $url/blob.bin | tee /dev/stderr |
	tr '\n' ' ' | grep -qx 'text/html; charset=utf-8 text/css text/plain; charset=utf-8 application/octet-stream '"
head_ok() {
	curl -sS --max-time 10 -I "$url/blob.bin" > "$log/head" || return 1
	cat "$log/head"
	grep -q '^HTTP/1.1 200 OK' "$log/head" && grep -q '^Content-Length: 300000' "$log/head" &&
		[ "$(curl -sS --max-time 10 -X HEAD -o "$log/hbody" -w '%{size_download}' "$url/blob.bin" 2>/dev/null)" = 0 ]
}
check "HEAD: the GET's headers, no body" head_ok
check "404 for a missing file, a '..' segment and an escaped '/'" bash -c "
	for p in /missing.html /docs/../hello.txt /docs%2Findex.html /%2e%2e/init; do
		c=\$(curl -sS --path-as-is -o /dev/null -w '%{http_code}' $url\$p); echo \"\$p \$c\"; [ \"\$c\" = 404 ] || exit 1; done"
keepalive_ok() {
	curl -sS -v --max-time 20 -o /dev/null -o /dev/null "$url/hello.txt" "$url/bytes/5000" 2> "$log/ka" || return 1
	grep -E 'Re-using|HTTP/1.1 200|left intact' "$log/ka"
	[ "$(grep -c '^< HTTP/1.1 200 OK' "$log/ka")" = 2 ] && grep -q 'Re-using existing connection' "$log/ka"
}
check "keep-alive: two requests on one connection (curl with two URLs)" keepalive_ok
big_ok() {
	curl -sS --max-time 60 "$url/bytes/1000000" -o "$log/big" || return 1
	[ "$(stat -c %s "$log/big")" = 1000000 ] &&
		[ "$(sha256sum < "$log/big")" = "$(python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(1000000)))' | sha256sum)" ]
}
check "GET /bytes/1000000: length and every byte" big_ok
check "pipelined GET, HEAD, 404 on one connection, answered in order" python3 "$here/client.py" pipelined $http $echo $discard
check "malformed requests: 400/405/431/505 and close, then still serving" python3 "$here/client.py" malformed $http $echo $discard
check "TCP echo (7): 200 KB back intact" python3 "$here/client.py" echo $http $echo $discard
check "TCP discard (9): 1 MB taken, clean close" python3 "$here/client.py" discard $http $echo $discard
# Eight downloads at once fill virtio-net's transmit ring: the driver once wrote a
# header past its header page when the ring was full (the thread faulted).
parallel_ok() {
	local i pids=()
	for i in 1 2 3 4 5 6 7 8; do
		curl -sS --max-time 60 -o "$log/par$i" "$url/bytes/3000000" & pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || return 1; done
	for i in 1 2 3 4 5 6 7 8; do [ "$(stat -c %s "$log/par$i")" = 3000000 ] || return 1; done
	cmp "$log/par8" <(python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(3000000)))')
}
check "8 concurrent /bytes/3000000 downloads complete (transmit ring full)" parallel_ok
check "still serving GET / after everything" same_bytes "$url/" "$www/index.html"
check "idle keep-alive connection: webd sleeps until a real deadline (under 40 wakeups in 3 s, no yields)" \
	python3 "$here/client.py" idle $http "$log/webd.log"

# The counter lines (every 2 s while frames arrive): receive copies nothing, rejections counted.
counters_ok() {
	for _ in $(seq 100); do
		grep -q 'webd: frames rx' "$log/webd.log" && grep -q 'webd: http .* 400 [1-9]' "$log/webd.log" && break
		sleep 0.1
	done
	grep '^webd: \(http\|frames\)' "$log/webd.log" | tail -2
	grep '^webd: frames rx' "$log/webd.log" | tail -1 | grep -q 'bytes copied rx 0 tx [1-9]' &&
		grep '^webd: http' "$log/webd.log" | tail -1 | grep -q ' 400 [1-9][0-9]* 405 [1-9][0-9]* 431 [1-9][0-9]* 505 [1-9]'
}
check "counters: 0 bytes copied on receive, rejections counted" counters_ok
check "no panic, no device fault" bash -c "! grep -E 'PANIC|FATAL|device fault|W thread' '$log/webd.log'"
stop_qemu

# Second boot: the address from slirp's DHCP server, polled mode (never sleeps).
if start_qemu webd-dhcp "$root/build/initrd-webd-dhcp.cpio"; then
	check "DHCP: webd leases 10.0.2.15 and reports ready (polled mode)" \
		grep -q '^webd: ready on 10.0.2.15: .*(polled mode)' "$log/webd-dhcp.log"
	check "DHCP, polled: GET / and /bytes/1000000" bash -c "same() { curl -sS --max-time 30 -o '$log/b' \"\$1\" && cmp '$log/b' \"\$2\"; }
		same $url/ '$www/index.html' && python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(1000000)))' > '$log/p' &&
		same $url/bytes/1000000 '$log/p'"
	# test-fault-after 200: the driver found the receive ring broken, reset the device, and
	# webd took every buffer back and restarted it; it serves on.
	check "device fault: reported once, every buffer back, restarted, serving again" bash -c "
		grep -q '^floo: device fault 1: 256 receive and 256 transmit buffers back, restart ok' '$log/webd-dhcp.log' &&
		! grep -q '^floo: device fault 2' '$log/webd-dhcp.log' &&
		curl -sS --max-time 30 $url/hello.txt | grep -q 'Hello from Hallows'"
else
	notok "DHCP: webd leases 10.0.2.15 and reports ready (polled mode)"
fi
stop_qemu

# The same webd over the Intel drivers (the NIC table of webd.c), both in interrupt mode:
# the 82574L (e1000e) on MSI-X, the 82540EM (e1000) on its INTx line (q35 routes it).
# One page and 100,000 generated bytes each.
for nic in e1000e e1000; do
	if start_qemu "webd-$nic" "$root/build/initrd-webd-test.cpio" "$nic"; then
		want=interrupt
		check "$nic: webd up on it, $want mode, GET / and /bytes/100000" bash -c "
			grep -q '^webd: $nic up' '$log/webd-$nic.log' &&
			grep -q '^webd: ready on .*($want mode)' '$log/webd-$nic.log' &&
			curl -sS --max-time 30 -o '$log/b' $url/ && cmp '$log/b' '$www/index.html' &&
			python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(100000)))' > '$log/p' &&
			curl -sS --max-time 30 -o '$log/b' $url/bytes/100000 && cmp '$log/b' '$log/p'"
	else
		notok "$nic: webd up on it"
	fi
	stop_qemu
done

# Third boot: virtio-net on a TAP device in a namespace of our own (198.18.0.1 Linux,
# 198.18.0.2 webd), where QEMU offers checksum offload and nothing stands between.
if ! ip netns add "$ns" 2>"$log/err" || ! ip netns exec "$ns" ip tuntap add dev "$tap" mode tap 2>>"$log/err"; then
	ok "tap: all # SKIP cannot create a namespace with a TAP device ($(head -1 "$log/err"))"
	exit 0
fi
ip -n "$ns" link set lo up
ip -n "$ns" addr add 198.18.0.1/24 dev "$tap"
ip -n "$ns" link set "$tap" up
setsid ip netns exec "$ns" python3 "$root/tools/qemu_run.py" --name webd-tap --kernel "$root/build/hallows.elf" \
	--initrd "$root/build/initrd-webd-bench.cpio" --append "" --smp 1 --want hang --timeout 300 \
	--log "$log/webd-tap.serial.log" --echo \
	--qemu-arg=-netdev --qemu-arg="tap,id=n0,ifname=$tap,script=no,downscript=no" \
	--qemu-arg=-device --qemu-arg="virtio-net-pci,netdev=n0" > "$log/webd-tap.log" 2>&1 &
qemu_pgid=$!
for _ in $(seq 1200); do grep -q '^webd: ready on ' "$log/webd-tap.log" 2>/dev/null && break; sleep 0.1; done
check "tap: webd ready on 198.18.0.2 with checksum offload" bash -c "grep -q '^webd: ready on 198.18.0.2' '$log/webd-tap.log' &&
	grep -q '^webd: .*checksum offload on' '$log/webd-tap.log'"
tap_big_ok() {
	ip netns exec "$ns" curl -sS --max-time 120 -o "$log/tbig" http://198.18.0.2/bytes/10000000 || return 1
	[ "$(sha256sum < "$log/tbig")" = "$(python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(10000000)))' | sha256sum)" ]
}
check "tap: GET /bytes/10000000, every byte" tap_big_ok
check "tap: GET / byte for byte" bash -c "ip netns exec $ns curl -sS --max-time 20 http://198.18.0.2/ | cmp - '$www/index.html'"
check "tap: 1,000 concurrent connections, each answered in full" bash -c "ulimit -n 4096 &&
	ip netns exec $ns env WEBD_HOST=198.18.0.2 python3 '$here/client.py' many 80 7 9"
check "tap: TCP echo 200 KB intact" ip netns exec "$ns" env WEBD_HOST=198.18.0.2 python3 "$here/client.py" echo 80 7 9
sed -n 's/^virtio-net: .*, mac \([0-9a-f:]*\), .*/\1/p' "$log/webd-tap.log" | head -1 > "$log/mac"
check "tap: 3,000 malformed frames (random, cut short, lying lengths) sent at webd" \
	ip netns exec "$ns" python3 "$here/client.py" garbage "$tap" "$log/mac"
check "tap: still serving after the malformed frames (GET /, echo)" bash -c "
	ip netns exec $ns curl -sS --max-time 20 http://198.18.0.2/ | cmp - '$www/index.html' &&
	ip netns exec $ns env WEBD_HOST=198.18.0.2 python3 '$here/client.py' echo 80 7 9"
check "tap: no panic, no device fault, no connection refused for memory" bash -c "! grep -E 'PANIC|FATAL|device fault|W thread' '$log/webd-tap.log' &&
	sleep 2.5 && grep '^webd: floo' '$log/webd-tap.log' | tail -1 | grep -q 'out of memory 0;'"
check "tap: the malformed frames were seen and dropped (drops counted in eth, ip, tcp)" bash -c "
	grep '^webd: floo' '$log/webd-tap.log' | tail -1 | tee /dev/stderr |
	grep -q 'drops eth [1-9][0-9]* arp [0-9]* ip [1-9][0-9]* (csum [0-9]*) tcp [1-9]'"
stop_qemu
