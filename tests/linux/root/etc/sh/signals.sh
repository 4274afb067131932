# trap, kill, background jobs and wait, exit status of killed jobs.
trap 'echo caught USR1' USR1
kill -USR1 $$
echo "after the trap"
trap 'echo exiting with trap' EXIT
yes > /dev/null &
pid=$!
kill $pid
wait $pid 2>/dev/null
echo "killed job status $?"
sh -c 'kill -9 $$'
echo "self-killed shell status $?"
trap - USR1
sh -c 'trap "echo got TERM; exit 3" TERM; kill -TERM $$; echo not here'
echo "trapped shell status $?"
kill -0 $$ && echo "kill -0 works"
kill -TERM 99999
echo "kill of a missing process: $?"
