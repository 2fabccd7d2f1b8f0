#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and integration).
# Run as root: the integration tests load BPF programs. With CI=true a test that
# finds BPF unusable fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 300 "$@"
