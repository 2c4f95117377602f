#!/bin/bash
# Install the Debian 12 packages the project needs, only those missing.
# Idempotent and quick when everything is present (one dpkg query).
set -euo pipefail
PKGS=(
  gcc clang make binutils pkg-config
  libcmocka-dev libfdt-dev libsqlite3-dev sqlite3 zlib1g-dev
  qemu-system-x86
  afl++ lcov
  acpica-tools
  user-mode-linux busybox-static cpio iproute2
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
