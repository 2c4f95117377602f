#!/bin/bash
# Fetch a real Debian 6.1 x86-64 bzImage for the loader tests into
# $B/cache/vmlinuz (B defaults to build). Idempotent: does nothing when the
# file is already there. Picks the newest linux-image-6.1.0-<N>-amd64
# (unsigned package preferred: same kernel, no signature wrapper to skip).
# Exits 0 even when apt has no network, so `make check` goes on and
# tests/test_loader.c reports the missing kernel itself.
set -uo pipefail
B=${B:-build}
dest=$B/cache/vmlinuz
# When no kernel can be had, say why in this file: test_loader skips (naming
# the reason) only when it exists, and fails when the kernel is just missing.
marker=$B/cache/vmlinuz.unavailable
if [ -s "$dest" ]; then
  rm -f "$marker"
  exit 0
fi
mkdir -p "$B/cache"
rm -f "$marker"
unavailable() {
  echo "fetch-kernel: $*"
  echo "$*" >"$marker"
  exit 0
}
echo "fetch-kernel: $dest missing; looking for a Debian linux-image-6.1.0-*-amd64"

# Newest ABI number first; only the plain amd64 flavour (not cloud/rt/dbg).
pick() {
  apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64(-unsigned)?$' 2>/dev/null |
    awk '{print $1}' | sort -t- -k4,4nr -k6,6r | head -n 20
}
candidates=$(pick)
if [ -z "$candidates" ]; then
  echo "fetch-kernel: apt-cache knows no linux-image-6.1.0-*-amd64; running apt-get update"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq || true
  candidates=$(pick)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
try_download() {
  local pkg=$1
  (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1)
}

ok=
updated=
for pkg in $candidates; do
  # Only packages with an installable candidate version are downloadable.
  apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: (none)' && continue
  echo "fetch-kernel: downloading $pkg"
  if try_download "$pkg"; then ok=$pkg; break; fi
  if [ -z "$updated" ]; then
    echo "fetch-kernel: download failed; running apt-get update and retrying"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq || true
    updated=1
    if try_download "$pkg"; then ok=$pkg; break; fi
  fi
done
if [ -z "$ok" ]; then
  unavailable "apt could not download any of: ${candidates:-linux-image-6.1.0-*-amd64 (none known)} (no network?)"
fi
deb=$(ls "$tmp"/*.deb | head -n 1)
mkdir -p "$tmp/x"
if ! dpkg-deb -x "$deb" "$tmp/x"; then
  echo "fetch-kernel: dpkg-deb -x $deb failed" >&2
  exit 0
fi
img=$(ls "$tmp"/x/boot/vmlinuz-* 2>/dev/null | head -n 1)
if [ -z "$img" ]; then
  echo "fetch-kernel: $ok holds no boot/vmlinuz-*" >&2
  exit 0
fi
# Copy then rename so an interrupted run never leaves a partial vmlinuz.
cp "$img" "$dest.tmp" && mv "$dest.tmp" "$dest"
echo "fetch-kernel: $(basename "$img") from $ok -> $dest ($(stat -c %s "$dest") bytes)"
