#!/bin/sh
# How deep user stacks unwind on this machine (docs/stacks.md): starts each
# workload, lets stack_depth capture a thread sleeping in a lock wait, and
# stops the workload again. Run as root (ptrace of another user's threads is
# not needed, but /proc/PID/map_files is) from the build directory's parent:
#   tools/stack_depth/measure.sh [BUILD_DIR] [--frames]
set -u
build=${1:-build}
shift 2>/dev/null || true
tool="$build/tools/stack_depth/stack_depth"
[ -x "$tool" ] || { echo "measure.sh: build $tool first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Starts "$@" in the background and waits for its "ready" line; sets $started.
start() {
	"$@" > "$work/out" 2>&1 &
	started=$!
	for _ in $(seq 100); do
		grep -q ready "$work/out" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "measure.sh: $1 did not get ready" >&2
}

stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

for variant in nofp fp; do
	start "$build/tools/stack_depth/mutex_chain_$variant" 3
	"$tool" "$@" --syscall 202 --repeat 200 "$started" "C -O2 $variant, mutex" ; stop "$started"
done

start /usr/bin/python3 -c '
import threading, time
lock = threading.Lock()
def work():
    while True:
        with lock:
            time.sleep(0.002)
threads = [threading.Thread(target=work) for _ in range(3)]
for t in threads: t.start()
print("ready", flush=True)
for t in threads: t.join()
'
"$tool" "$@" --syscall 202 --repeat 100 "$started" "python3 threading.Lock"; stop "$started"

db="$work/locked.db"
sqlite3 "$db" "create table t(x);"
# The holder keeps an exclusive lock while its stdin stays open; the waiter's
# busy handler sleeps and retries.
mkfifo "$work/holder_in"
sqlite3 "$db" < "$work/holder_in" > /dev/null 2>&1 &
holder=$!
exec 3> "$work/holder_in"
echo "BEGIN EXCLUSIVE; INSERT INTO t VALUES (0);" >&3
sleep 0.3
sqlite3 -cmd ".timeout 60000" "$db" "INSERT INTO t VALUES (1);" > /dev/null 2>&1 &
waiter=$!
sleep 0.3
"$tool" "$@" "$waiter/$waiter" "sqlite3 busy wait"
stop "$waiter"
exec 3>&-
stop "$holder"
