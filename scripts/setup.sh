#!/usr/bin/env bash
# Installs the Debian packages locktrace needs to build, test and benchmark.
# Idempotent: installs only what is missing. Run as root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  clang llvm libclang-rt-dev
  libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev libdeflate-dev
  libcli11-dev nlohmann-json3-dev
  googletest libgtest-dev
  util-linux sqlite3 python3 strace
)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if ((${#missing[@]})); then
  if ((EUID != 0)); then
    echo "setup: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
