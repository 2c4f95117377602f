#!/bin/bash
# make run: boot the test guest on KVM with its serial output on this
# terminal; where /dev/kvm is missing or unusable, replay the same guest's
# recorded trace (traces/bundled/boot-2cpu.db) on the simulated hypervisor
# instead, and say so: no kernel file is needed for that.
# Exits 0 only when the guest ran to a clean shutdown (or replay matched).
set -uo pipefail
B=${1:-build}
VMM=$B/vmm
GUEST=$B/test-guest/hello.elf
TRACE=traces/bundled/boot-2cpu.db
CMDLINE="console=ttyS0 hello=make-run"

if [ -e /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
  echo "== make run: booting $GUEST on KVM with 2 vCPUs"
  "$VMM" run --kernel "$GUEST" --cpus 2 --memory 64M --cmdline "$CMDLINE"
  rc=$?
  if [ $rc -ne 3 ]; then
    [ $rc -eq 0 ] && echo "== guest shut down cleanly" || echo "== guest run failed (exit $rc)"
    exit $rc
  fi
  echo "== /dev/kvm is present but unusable here; falling back to the simulated hypervisor"
else
  echo "== /dev/kvm is missing or not accessible; using the simulated hypervisor"
fi
echo "== make run: replaying $TRACE (recorded on KVM) through the same vmm on the sim backend"
"$VMM" run --backend sim --trace "$TRACE"
rc=$?
[ $rc -eq 0 ] && echo "== replay matched; guest shut down cleanly" || echo "== replay failed (exit $rc)"
exit $rc
