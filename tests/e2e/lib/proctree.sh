# tests/e2e/lib/proctree.sh — a process and everything it started; sourced.
#   proc_tree PID: PID and all its descendants (children first), one a line
#   kill_tree PID: SIGKILL for PID and all its descendants: the tree is
#       stopped first and looked at again, so that nothing forked meanwhile
#       escapes, and no child is orphaned (re-parented out of the tree)
#       before it is named
proc_tree() {
	local c
	for c in $(ps -o pid= --ppid "$1"); do proc_tree "$c"; done
	echo "$1"
}
kill_tree() {
	local pids
	pids=$(proc_tree "$1")
	kill -STOP $pids 2>/dev/null
	pids=$(proc_tree "$1")
	kill -KILL $pids 2>/dev/null
}
