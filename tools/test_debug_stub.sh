#!/bin/bash
# Starts `make debug` (QEMU halted with its GDB stub), checks with ss that
# the stub listens on 127.0.0.1 and nowhere else, and stops it again.
# Writes one TAP line to $1. The port is picked per run so that parallel
# sessions do not collide; the process group started here is the only one
# stopped.
#   usage: tools/test_debug_stub.sh TAPFILE
set -u
tap=$1
name=debug.gdb_stub_listens_on_loopback_only
log=build/debug-stub.log
port=$((20000 + $$ % 20000))
for _ in $(seq 20); do
	[ -z "$(ss -ltnH "sport = :$port")" ] && break
	port=$((port + 1))
done

setsid make --no-print-directory -s debug GDB_PORT=$port DISPLAY= < /dev/null > "$log" 2>&1 &
pid=$!
stop() { kill -- -"$pid" 2> /dev/null; wait "$pid" 2> /dev/null; }

listen=""
for _ in $(seq 120); do
	listen=$(ss -ltnH "sport = :$port" | awk '{print $4}' | sort -u)
	[ -n "$listen" ] && break
	kill -0 "$pid" 2> /dev/null || break
	sleep 0.5
done
stop

if [ "$listen" = "127.0.0.1:$port" ]; then
	echo "ok - $name" >> "$tap"
else
	echo "# $name: listening on '${listen//$'\n'/ }', wanted 127.0.0.1:$port only" >> "$tap"
	tail -5 "$log" | sed 's/^/# /' >> "$tap"
	echo "not ok - $name" >> "$tap"
fi
