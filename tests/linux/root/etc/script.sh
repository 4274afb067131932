#!/bin/busybox sh
echo "script: $0 $1"
exit 5
