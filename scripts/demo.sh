#!/usr/bin/env bash
# Installs what is missing, builds, and runs the built-in demo. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/src/cli/locktrace demo "$@"
