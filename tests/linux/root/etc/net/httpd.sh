# test-linux-net: busybox httpd on port 8081 (the host fetches /index.html through
# QEMU's forward), then busybox nc -l on 9001 (the host sends a line and closes),
# then httpd is stopped.
/bin/busybox httpd -f -p 8081 -h /etc/www &
echo "httpd: started"
/bin/busybox nc -l -p 9001
kill $!
wait
echo "httpd: stopped"
