#!/bin/bash
# tests/nested/run.sh BUILD_DIR [SCENARIO] - stock Linux on our vmm, on real KVM.
#
# This machine's own /dev/kvm cannot boot a stock kernel, but a Debian kernel
# under QEMU TCG (-cpu max emulates AMD SVM) gets a working /dev/kvm from
# kvm-amd. So: boot that kernel (L1) under QEMU with an initramfs holding
# the KVM modules, busybox, BUILD_DIR/vmm and its libraries, and the same
# kernel with a small initramfs of its own (L2); L1's init runs the vmm to
# boot L2 with each device, L2's init checks them, and every result comes
# back here on L1's serial port.
#
# SCENARIO: check (default; what `make check` runs: all devices, 1 vCPU,
# poweroff, and the boot-time comparison with QEMU microvm) or all (what
# `make check-nested` runs: 1 and 2 vCPUs, each device alone, reboot, Stop
# from the host, the comparison, and a recorded trace of the boot).
# Environment: NESTED_TIMEOUT (seconds for the whole L1 run), NESTED_KEEP=1
# (keep the work folder), NESTED_TRACE_OUT=FILE (where the recorded trace
# goes, with scenario all or NESTED_RECORD=1).
#
# Prints one "CHECK RUN/NAME PASS|FAIL detail" line per check and FIGURE
# lines; exits 0 only when every check passed and none is missing, 77 when
# QEMU or the kernel cannot be had here (the reason on a SKIP-NESTED line).
# The whole script is one function, read before it runs: a run takes
# minutes, and bash would otherwise read an edited file from the middle.
main() {
set -uo pipefail
B=${1:?usage: run.sh BUILD_DIR [check|all]}
SCENARIO=${2:-check}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
QEMU=${QEMU:-qemu-system-x86_64}
CC=${CC:-gcc}

skip() { echo "SKIP-NESTED: $*"; exit 77; }
command -v "$QEMU" >/dev/null || skip "$QEMU is not installed (Debian package qemu-system-x86)"
command -v cpio >/dev/null || skip "cpio is not installed"
case $(ldd /bin/busybox 2>&1) in *"not a dynamic"*) ;; *) false ;; esac ||
	skip "/bin/busybox is missing or not static (Debian package busybox-static)"
[ -x "$B/vmm" ] || { echo "run.sh: $B/vmm not built"; exit 2; }
B=$(cd "$B" && pwd)
K=$B/cache/vmlinuz
MODS=$B/cache/modules
B="$B" "$ROOT/scripts/fetch-kernel.sh" >/dev/null
B="$B" "$ROOT/scripts/fetch-kernel-modules.sh" >/dev/null
[ -s "$K" ] || skip "no Debian kernel: $(cat "$B/cache/vmlinuz.unavailable" 2>/dev/null)"
[ -s "$MODS/kvm.ko" ] || skip "no Debian kernel modules: $(cat "$B/cache/modules.unavailable" 2>/dev/null)"

case $SCENARIO in
check)
	RUNS=full:1:all:poweroff
	MICROVM=1 RECORD=${NESTED_RECORD:-0} ROUNDS=2
	TIMEOUT=${NESTED_TIMEOUT:-480} ;;
all)
	RUNS=full:1:all:poweroff,smp:2:all:poweroff
	for d in block rng net console vsock balloon; do RUNS="$RUNS,$d:1:$d:poweroff"; done
	RUNS="$RUNS,reboot:2:none:reboot,stop:1:none:stop"
	MICROVM=1 RECORD=${NESTED_RECORD:-1} ROUNDS=3
	TIMEOUT=${NESTED_TIMEOUT:-1200} ;;
*) echo "run.sh: unknown scenario '$SCENARIO' (check or all)"; exit 2 ;;
esac
# A run list for a quick experiment: NESTED_RUNS=name:cpus:devs:end,...
RUNS=${NESTED_RUNS:-$RUNS}
MICROVM=${NESTED_MICROVM:-$MICROVM}
ROUNDS=${NESTED_BOOT_ROUNDS:-$ROUNDS}

mkdir -p "$B/nested"
W=$(mktemp -d "$B/nested/run.XXXXXX")
[ "${NESTED_KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT

# ---- the helper, static so it runs in both initramfs images ----
"$CC" -std=gnu11 -Wall -Wextra -Werror -O2 -static -o "$W/nested_tool" "$HERE/nested_tool.c" ||
	{ echo "run.sh: cannot build nested_tool (static libc: Debian libc6-dev)"; exit 2; }

# Copy a dynamically linked program and every library ldd names into ROOTFS.
copy_prog() { # ROOTFS PROGRAM DEST
	local root=$1 prog=$2 dest=$3 lib
	mkdir -p "$root$(dirname "$dest")"
	cp "$prog" "$root$dest"
	for lib in $(ldd "$prog" | grep -oE '/[^ ]+'); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

# ---- L2: busybox, init, virtio and vsock modules ----
L2=$W/l2
mkdir -p "$L2"/{bin,lib/modules,proc,sys,dev,tmp}
cp /bin/busybox "$L2/bin/busybox"
cp "$W/nested_tool" "$L2/bin/nested_tool"
cp "$HERE/l2-init.sh" "$L2/init"
chmod 755 "$L2/init"
for m in virtio_ring virtio virtio_mmio virtio_blk virtio-rng virtio_console virtio_balloon \
	failover net_failover virtio_net vsock vmw_vsock_virtio_transport_common \
	vmw_vsock_virtio_transport; do
	cp "$MODS/$m.ko" "$L2/lib/modules/"
done
(cd "$L2" && find . | cpio -o -H newc --quiet | gzip -6) > "$W/l2-initrd.gz"

# ---- L1: busybox, init, KVM modules, the vmm, the L2 kernel and initrd ----
L1=$W/l1
mkdir -p "$L1"/{bin,usr/bin,lib/modules,proc,sys,dev,tmp,run,l2}
cp /bin/busybox "$L1/bin/busybox"
cp "$W/nested_tool" "$L1/bin/nested_tool"
cp "$HERE/l1-init.sh" "$L1/init"
chmod 755 "$L1/init"
for m in irqbypass ccp kvm kvm-amd tun; do
	cp "$MODS/$m.ko" "$L1/lib/modules/"
done
copy_prog "$L1" "$B/vmm" /bin/vmm
# glibc loads libgcc_s at run time for pthread_cancel (ldd cannot see it).
gcc_s=$(ldconfig -p | grep -m1 -oE '/[^ ]*/libgcc_s\.so\.1$')
[ -n "$gcc_s" ] && mkdir -p "$L1$(dirname "$gcc_s")" && cp -L "$gcc_s" "$L1$gcc_s"
cp "$K" "$L1/l2/vmlinuz"
cp "$W/l2-initrd.gz" "$L1/l2/initrd.gz"
if [ "$MICROVM" = 1 ]; then
	copy_prog "$L1" "$(command -v "$QEMU")" /usr/bin/qemu-system-x86_64
	mkdir -p "$L1/usr/share/qemu"
	cp /usr/share/qemu/bios-microvm.bin /usr/share/qemu/linuxboot_dma.bin "$L1/usr/share/qemu/"
fi
# Uncompressed: TCG inflates slowly, QEMU loads it by DMA quickly.
(cd "$L1" && find . | cpio -o -H newc --quiet) > "$W/l1-initrd.cpio"

PATTERN="nested-$$-$RANDOM$RANDOM"
APPEND="console=ttyS0 quiet loglevel=3 nested_runs=$RUNS nested_microvm=$MICROVM"
APPEND="$APPEND nested_verbose=${NESTED_VERBOSE:-0} nested_boot_rounds=$ROUNDS nested_record=$RECORD nested_pattern=$PATTERN"
echo "run.sh: L1 initramfs $(( $(stat -c %s "$W/l1-initrd.cpio") >> 20 )) MiB, runs $RUNS"
t0=$(date +%s.%N)
timeout -k 5 "$TIMEOUT" "$QEMU" -accel tcg -cpu max -M pc -m 2048 -smp 1 \
	-nographic -no-reboot -nodefaults -serial stdio \
	-kernel "$K" -initrd "$W/l1-initrd.cpio" -append "$APPEND" \
	< /dev/null > "$W/l1.log" 2>&1
qrc=$?
t1=$(date +%s.%N)
tr -d '\r' < "$W/l1.log" > "$W/l1.txt"

# ---- results ----
fails=0
check() { echo "CHECK $1 $2 ${3:-}"; [ "$2" = FAIL ] && fails=$((fails + 1)); return 0; }
# L2's own lines, "L2[RUN] CHECK NAME RESULT detail", become "CHECK RUN/NAME ...".
sed -n -e 's/^L2\[\([^]]*\)\] CHECK \([^ ]*\) /CHECK \1\/\2 /p; t' -e '/^CHECK /p' "$W/l1.txt" > "$W/checks"
cat "$W/checks"
fails=$((fails + $(grep -c '^CHECK [^ ]* FAIL' "$W/checks")))
sed -n -e 's/^L2\[\([^]]*\)\] FIGURE /FIGURE \1\//p; t' -e '/^FIGURE /p' "$W/l1.txt"
grep -E '^(EXIT|TERM) ' "$W/l1.txt"
if grep -q '^L1-DONE' "$W/l1.txt"; then
	check l1/boot PASS "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f s for the whole L1 run", b-a}')"
else
	check l1/boot FAIL "L1 did not finish (QEMU exit $qrc); its last lines:"
	tail -30 "$W/l1.txt" | sed 's/^/    | /'
fi
# Every run must have reported the checks its devices promise: silence must
# not look like success.
for r in $(echo "$RUNS" | tr , ' '); do
	IFS=: read -r n c d e <<< "$r"
	[ "$d" = all ] && d=block+rng+net+console+vsock+balloon
	want="vmm-exit cpus acpi-tables acpi-virtio-mmio serial"
	for x in $(echo "$d" | tr + ' '); do
		case $x in
		block) want="$want block-driver block-rw block-capacity block-ro block-rw-host block-ro-host" ;;
		rng) want="$want rng-driver rng-hwrng" ;;
		net) want="$want net-driver net-link net-ping" ;;
		console) want="$want console-driver console-g2h console-h2g" ;;
		vsock) want="$want vsock-driver vsock-dev vsock-connect" ;;
		balloon) want="$want balloon-driver balloon-inflate balloon-host" ;;
		none) ;;
		esac
	done
	for w in $want; do
		grep -q "^CHECK $n/$w " "$W/checks" || check "$n/$w" FAIL "missing: the run never reported it"
	done
done
if [ "$MICROVM" = 1 ]; then
	# The fastest of the rounds of each: the host is shared, and TCG time
	# stolen by other work only ever adds.
	best() { sed -n "s/^FIGURE L2\[$1-[0-9]*\] boot-to-marker \([0-9]*\) ms/\1/p" "$W/l1.txt" |
		sort -n | head -n 1; }
	all() { sed -n "s/^FIGURE L2\[$1-[0-9]*\] boot-to-marker \([0-9]*\) ms/\1/p" "$W/l1.txt" |
		tr '\n' ' '; }
	v=$(best boot-vmm) q=$(best boot-qemu)
	f=$(sed -n 's/^FIGURE L2\[full\] boot-to-marker \([0-9]*\) ms/\1/p' "$W/l1.txt")
	if [ -n "$v" ] && [ -n "$q" ]; then
		echo "FIGURE boot-to-init vmm ${v} ms, qemu-microvm ${q} ms, ratio vmm/qemu" \
			"$(awk -v a="$v" -v b="$q" 'BEGIN{printf "%.2f", a/b}')" \
			"(best of $ROUNDS; vmm: $(all boot-vmm)ms; qemu: $(all boot-qemu)ms${f:+; vmm with all devices: $f ms})"
	else
		check boot-time FAIL "no boot-time figure (vmm '${v}' ms, qemu '${q}' ms)"
	fi
fi
if [ "$RECORD" = 1 ]; then
	out=${NESTED_TRACE_OUT:-$B/nested/linux-boot-1cpu.db}
	if grep -q '^TRACE-END' "$W/l1.txt"; then
		sed -n '/^TRACE-BEGIN/,/^TRACE-END/p' "$W/l1.txt" | sed '1d;$d' | base64 -d | gunzip > "$out.tmp" &&
			mv "$out.tmp" "$out" && check trace/copied-out PASS "$out ($(stat -c %s "$out") bytes)" ||
			check trace/copied-out FAIL "cannot decode the trace"
	else
		check trace/copied-out FAIL "L1 printed no trace"
	fi
fi
[ "${NESTED_KEEP:-0}" = 1 ] && echo "run.sh: work folder kept: $W"
echo "NESTED-SUMMARY: $fails failed"
[ $fails -eq 0 ]
}
main "$@"
