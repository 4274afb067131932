# Background jobs and wait, exit statuses of jobs, execs.
sh -c 'exit 3' &
pid1=$!
sh -c 'exit 5' &
pid2=$!
wait $pid1
echo "first job: $?"
wait $pid2
echo "second job: $?"
(seq 1 3 | while read n; do echo "job line $n"; done) &
wait
echo "all jobs done"
for n in 1 2 3 4 5 6 7 8; do echo $n & done | sort | tr '\n' ' '
echo
wait
x=$(exec echo exec in a substitution)
echo "$x"
exec echo "exec replaces the shell"
echo "never printed"
