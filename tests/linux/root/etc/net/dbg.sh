echo dbg: started
/bin/busybox ps
/bin/busybox nc -l -p 9001
/bin/busybox killall httpd
