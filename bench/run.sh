#!/usr/bin/env bash
# Builds locktrace and the benchmark programs, then runs the suite (bench.py).
#
#   bench/run.sh [--quick] [--build-dir DIR] [bench.py options...]
#
# Needs root (BPF), strace, python3. See bench/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build_dir=${LOCKTRACE_BENCH_BUILD_DIR:-$root/build-bench}
jobs=${JOBS:-2}
pass=()
while (($#)); do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    -h|--help)
      sed -n '2,7p' "$0"
      exec python3 "$here/bench.py" --help ;;
    *) pass+=("$1"); shift ;;
  esac
done

if [[ $EUID -ne 0 ]]; then
  echo "run.sh: tracing needs root" >&2
  exit 1
fi

# locktrace itself, as a release-like build.
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C "$build_dir" -j"$jobs" --no-print-directory locktrace >/dev/null

# The bench programs: in the main build once the top-level CMakeLists.txt has
# add_subdirectory(bench), otherwise as a project of their own.
if make -C "$build_dir" --no-print-directory help 2>/dev/null | grep -q '\.\.\. bench_all$'; then
  bin_dir=$build_dir/bench
  make -C "$build_dir" -j"$jobs" --no-print-directory bench_all >/dev/null
else
  bin_dir=$build_dir/bench-only
  cmake -S "$here" -B "$bin_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  make -C "$bin_dir" -j"$jobs" --no-print-directory bench_all >/dev/null
fi

exec python3 "$here/bench.py" --locktrace "$build_dir/src/cli/locktrace" --bin-dir "$bin_dir" \
  ${pass[@]+"${pass[@]}"}
