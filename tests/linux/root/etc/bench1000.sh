# bench_getpid's shell figure: busybox sh runs 1,000 commands (each a new
# process: fork and execve of busybox), the same script on Hallows and Linux.
i=0
while [ $i -lt 1000 ]; do
	/bin/busybox true
	i=$((i + 1))
done
