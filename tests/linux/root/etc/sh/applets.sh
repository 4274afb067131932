# More applets, joined by pipes (no writable file system yet: everything streams).
echo "Hello Hallows" | tr a-z A-Z
echo "a b c" | tr -d ' '
seq 1 5 | xargs echo numbers:
seq 1 6 | xargs -n 2 echo pair
gzip -c /etc/words | gunzip -c | md5sum
gzip -c /etc/passwd | gzip -dc | wc -l
tar -cf - etc/words etc/hello.txt | tar -tvf - | sed 's/ .* / /'
tar -cf - etc/hello.txt | tar -xOf - etc/hello.txt
bzip2 -c /etc/words | bunzip2 -c | sha1sum
echo "2 + 3 * 4" | bc 2>/dev/null || expr 2 + 3 \* 4
printf 'b\na\nc\na\n' | sort -u
printf 'x 3\ny 1\nz 2\n' | sort -k2 -n
echo hello | sha512sum
echo hello | md5sum | cut -c1-8
echo "one two three" | awk '{print $2, NF}'
echo "key=value" | sed -e 's/=/ is /'
printf 'line1\nline2\nline3\n' | grep -v line2
printf 'aaa\nbbb\n' | paste -s -d ,
echo abc | od -An -tx1
echo 'hello' | base64 | base64 -d
printf '%05d|%-4s|%x\n' 42 ab 255
echo "  padded  " | xargs
seq 10 | tail -n +8
seq 100 | head -c 20 | wc -c
echo "3 1 2" | tr ' ' '\n' | sort -n | tr '\n' ' '; echo
yes | head -n 3 | uniq -c
echo /a/b/c | cut -d/ -f2-
basename /usr/lib/file.tar.gz .gz
dirname /usr/lib/file.tar.gz
expr length "hallows"
expr substr "hallows" 2 3
test 5 -gt 3 && echo "5 > 3"
[ -e /etc/passwd ] && echo "passwd exists"
[ -x /bin/busybox ] && echo "busybox runs"
echo "$((17 % 5)) $((2 ** 10))"
id -u
whoami 2>/dev/null || echo "no user name"
uname -s -m
echo "x y z" | wc -w
echo ABC | tr '[:upper:]' '[:lower:]'
cat /etc/words | sort | uniq -d
diff /etc/words /etc/words && echo same
cmp -s /etc/words /etc/passwd || echo differ
seq -s , 1 5
printf 'one\ttwo\n' | expand -t 4
echo "hello world" | fold -w 5
echo "  trim  me " | sed 's/^ *//;s/ *$//'
tac /etc/words | head -n 1
realpath /bin/../etc/./words
readlink -f /bin/sh
which sh
env -i A=1 env
true; echo "true: $?"; false; echo "false: $?"
