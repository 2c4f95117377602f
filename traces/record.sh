#!/bin/bash
# make traces: re-record the bundled traces (traces/bundled/*.db): the test
# guest booted on KVM (full stack; needs a usable /dev/kvm, says so and fails
# without), and real Linux drivers under user-mode Linux against vmm_device
# (device level, traces/bundled/dev-*.db; needs user-mode-linux).
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
  if [ -n "${CONSOLE_INPUT:-}" ]; then
    # Bytes typed at the virtio console (stdio with --serial none).
    (printf "%s" "$CONSOLE_INPUT"; sleep 0.5) | "$VMM" run --kernel "$GUEST" \
      --memory 32M --serial none --cmdline "console=ttyS0 trace=$name" "${args[@]}" \
      --record "$OUT/$name.db.new" >/dev/null || ok=0
  elif [ -n "${INPUT:-}" ]; then
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
CONSOLE_INPUT=hey record console-1cpu --cpus 1 --virtio-console || rc=1
# Device level: real Linux drivers (user-mode Linux) against vmm_device, each
# device process recording (vmm_device --record). Light checks: no
# throughput runs, a fixed pattern. vsock is not replayable at the device
# level yet, so it is not kept.
if [ -x "${UML:-/usr/bin/linux.uml}" ]; then
  mkdir -p "$tmp/uml"
  echo "== device level: tests/uml/run.sh $B (user-mode Linux)"
  RECORD_DIR=$tmp/uml VSOCK_BYTES=0 tests/uml/run.sh "$B" > "$tmp/uml.log" 2>&1 || {
    echo "make traces: the UML run failed:" >&2; tail -20 "$tmp/uml.log" >&2; rc=1; }
  for pair in rw:block-rw ro:block-ro vol:block-volatile rng:rng con:console \
              balloon:balloon net:net; do
    src=$tmp/uml/${pair%%:*}.db dst=$OUT/dev-${pair#*:}.db
    [ -f "$src" ] || { echo "make traces: no device trace for ${pair#*:}" >&2; rc=1; continue; }
    if "$TRACE" replay "$src" >/dev/null; then
      cp "$src" "$dst"
      echo "== dev-${pair#*:}"
      "$TRACE" info "$dst" | grep -E '^(events|file size)'
    else
      echo "make traces: dev-${pair#*:} does not replay; not kept" >&2
      "$TRACE" replay "$src" >&2; rc=1
    fi
  done
else
  echo "make traces: no user-mode Linux here; device-level traces not re-recorded" >&2
  rc=1
fi
du -cb "$OUT"/*.db | tail -1 | awk '{printf "bundled traces: %d bytes in all\n", $1}'
exit $rc
