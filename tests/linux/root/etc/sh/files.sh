# Redirections and file tools on the writable file system (/tmp).
echo "first line" > /tmp/f.txt
echo "second line" >> /tmp/f.txt
cat /tmp/f.txt
wc -l < /tmp/f.txt
cat > /tmp/here.txt <<END
written by a here-document
END
cat /tmp/here.txt
cp /etc/words /tmp/w
sort -r /tmp/w -o /tmp/w.sorted
head -n 2 /tmp/w.sorted
mv /tmp/w.sorted /tmp/w.moved
ls /tmp/w.sorted 2>/dev/null || echo "moved away"
mkdir -p /tmp/a/b/c
echo deep > /tmp/a/b/c/file
find /tmp/a | sort
echo "tee copy" | tee /tmp/tee.txt > /dev/null
cat /tmp/tee.txt
seq 1 1000 > /tmp/big
tail -n 1 /tmp/big
md5sum /tmp/big
gzip /tmp/big
ls /tmp/big*
gunzip /tmp/big.gz
wc -c /tmp/big
tar -cf /tmp/t.tar /tmp/a 2>/dev/null
rm -r /tmp/a
tar -xf /tmp/t.tar 2>/dev/null
cat tmp/a/b/c/file 2>/dev/null || cat /tmp/a/b/c/file
touch /tmp/empty
stat -c '%s %F' /tmp/empty
dd if=/dev/zero of=/tmp/zeros bs=512 count=4 2>/dev/null
wc -c < /tmp/zeros
# bug heap_pages_used_up_the_runtime_slots: a written file past 128 KiB got ENOSPC
dd if=/dev/zero of=/tmp/zeros8m bs=65536 count=128 2>/dev/null && echo "8 MiB written"
wc -c < /tmp/zeros8m
seq 1 200000 > /tmp/seq && md5sum < /tmp/seq && wc -c < /tmp/seq
rm /tmp/zeros8m /tmp/seq
echo error > /etc/nowhere/x 2>/dev/null || echo "no such directory"
rm -rf /tmp/a /tmp/f.txt /tmp/here.txt /tmp/w /tmp/w.moved /tmp/tee.txt /tmp/big /tmp/t.tar /tmp/empty /tmp/zeros /tmp/tmp
ls /tmp
