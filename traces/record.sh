#!/bin/bash
# make traces: re-record the bundled traces (traces/bundled/*.db) by booting
# the test guest on KVM. Needs a usable /dev/kvm; says so and fails without.
# Each trace is replayed right after recording: a trace that does not
# replay is never kept.
set -uo pipefail
B=${1:-build}
VMM=$B/vmm
TRACE=$B/trace
GUEST=$B/test-guest/hello.elf
OUT=traces/bundled
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
  echo "make traces: /dev/kvm is missing or not accessible; traces are recorded on KVM" >&2
  exit 1
fi
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A deterministic 64 KiB disk: every sector says which sector it is.
python3 -c '
import sys
sys.stdout.buffer.write(b"".join((b"sector %03d " % i).ljust(512, b".") for i in range(128)))
' > "$tmp/disk.img"

record() { # name, vmm options...
  local name=$1; shift
  cp "$tmp/disk.img" "$tmp/disk-$name.img"
  local args=()
  for a in "$@"; do args+=("${a//@DISK@/$tmp/disk-$name.img}"); done
  echo "== $name: $VMM run ${args[*]}"
  local ok=1
  if [ -n "${INPUT:-}" ]; then
    # Host input: bytes typed at the serial port while the guest runs.
    (printf '%s' "$INPUT"; sleep 0.5) | "$VMM" run --kernel "$GUEST" --memory 32M \
      --cmdline "console=ttyS0 trace=$name" "${args[@]}" --record "$OUT/$name.db.new" \
      >/dev/null || ok=0
  else
    "$VMM" run --kernel "$GUEST" --memory 32M --serial none \
      --cmdline "console=ttyS0 trace=$name" "${args[@]}" --record "$OUT/$name.db.new" \
      </dev/null || ok=0
  fi
  if [ $ok -eq 0 ]; then
    echo "make traces: recording $name failed" >&2; return 1
  fi
  if ! "$TRACE" replay "$OUT/$name.db.new" >/dev/null; then
    echo "make traces: $name does not replay; not kept" >&2
    "$TRACE" replay "$OUT/$name.db.new" >&2
    rm -f "$OUT/$name.db.new"; return 1
  fi
  mv "$OUT/$name.db.new" "$OUT/$name.db"
  "$TRACE" info "$OUT/$name.db" | grep -E '^(events|file size|bytes per exit)'
}

rc=0
record boot-1cpu --cpus 1 || rc=1
record boot-2cpu --cpus 2 || rc=1
record rng-block-1cpu --cpus 1 --virtio-rng --block @DISK@ || rc=1
record rng-block-ro-2cpu --cpus 2 --virtio-rng --block @DISK@,ro || rc=1
record block-volatile-1cpu --cpus 1 --block @DISK@,volatile || rc=1
INPUT=hi record serial-input-1cpu --cpus 1 || rc=1
du -cb "$OUT"/*.db | tail -1 | awk '{printf "bundled traces: %d bytes in all\n", $1}'
exit $rc
