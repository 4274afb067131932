# test-linux-net: busybox nc as a client, from Hallows to the host's port 9000
# (the runner's server reads one line, answers one, and closes).
echo "from hallows to the host" | /bin/busybox nc 10.0.2.2 9000
