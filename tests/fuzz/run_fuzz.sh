#!/bin/sh
# Runs a libFuzzer binary on a copy of a seed corpus, in a fresh temporary
# directory: the seeds in the source tree are never written to. On failure the
# directory (with the crashing input) is kept and named.
# Usage: run_fuzz.sh FUZZER SEED_DIR [LIBFUZZER_OPTIONS...]
set -eu
fuzzer=$1
seeds=$2
shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/trace_reader_fuzz.XXXXXX")
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/"
status=0
"$fuzzer" -artifact_prefix="$work/" "$@" "$work/corpus" || status=$?
if [ "$status" -ne 0 ]; then
  echo "run_fuzz.sh: $fuzzer exited with $status; inputs and artifacts kept in $work" >&2
  exit "$status"
fi
rm -rf "$work"
