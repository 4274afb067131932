# Pipelines, command substitution, here-documents, loops, functions, exit codes.
echo "pipeline: $(cat /etc/words | sort | uniq | wc -l)"
cat /etc/words | grep a | sort -r | head -n 2
echo "substitution: $(echo inner $(echo nested))"
count=0
for w in $(cat /etc/words); do count=$((count + 1)); done
echo "loop counted $count words"
i=0
while [ $i -lt 3 ]; do echo "while $i"; i=$((i + 1)); done
greet() { echo "hello $1 from a function"; return 3; }
greet world
echo "function returned $?"
cat <<END | tr a-z A-Z
here-document line one
value of i: $i
END
false | true
echo "pipeline status $?"
true | false
echo "pipeline status $?"
(echo subshell; exit 4)
echo "subshell status $?"
/bin/busybox sh -c 'echo nested shell $0' arg0
echo "nested status $?"
ls /etc | wc -l
seq 1 200 | tail -n 3
yes abc | head -n 2
echo done
