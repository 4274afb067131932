# test-linux (compared with Linux): busybox httpd, wget and nc on 127.0.0.1 in the same
# partition, through the personality's loopback (issue 15 item 7).
P=18087
/bin/busybox httpd -f -p 127.0.0.1:$P -h /etc/www &
H=$!
i=0
until /bin/busybox wget -q -O - http://127.0.0.1:$P/index.html 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 50 ] && break; /bin/busybox usleep 100000
done
/bin/busybox wget -q -O - http://127.0.0.1:$P/missing.html 2>/dev/null
echo "wget of a missing page: $?"
kill $H
wait $H 2>/dev/null
echo "httpd: $?"
/bin/busybox nc -l -p 18088 > /tmp/nc.got &
N=$!
i=0
until echo "through nc on 127.0.0.1" | /bin/busybox nc 127.0.0.1 18088 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 50 ] && break; /bin/busybox usleep 100000
done
wait $N
echo "nc -l: $?"
/bin/busybox cat /tmp/nc.got
