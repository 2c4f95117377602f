#!/bin/busybox sh
# tests/nested/l1-init.sh - /init of the L1 initramfs: a Debian kernel under
# QEMU TCG (AMD SVM emulated) that loads KVM and runs the project's vmm on
# it, booting the same Debian kernel as L2. See README.md in this folder.
#
# Parameters come from L1's kernel command line (init's environment):
#   nested_runs     space-free list of runs NAME:CPUS:DEVICES:END, comma
#                   separated; DEVICES a +-list of block rng net console vsock
#                   balloon (or "all", or "none"); END poweroff, reboot or
#                   stop (L1 sends SIGTERM to the vmm once L2 is up)
#   nested_microvm  1: also boot the L2 kernel and initrd under QEMU microvm
#                   (-enable-kvm) and under the vmm with no devices, and
#                   print both boot times
#   nested_boot_rounds  how many times to boot each for that (default 1)
#   nested_record   1: record the vmm's first no-device boot as a trace and
#                   print it gzip'd, base64-encoded between TRACE-BEGIN and
#                   TRACE-END
#   nested_pattern  bytes L2 writes to its disk
# Every line for the host starts with a word it parses: CHECK (L1's own
# checks, named RUN/CHECK), L2[RUN] (what L2 printed), FIGURE, EXIT, L1-DONE.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mkdir -p /proc /sys /dev /tmp /run
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
exec 2>&1

check() { echo "CHECK $1 $2 ${3:-}"; }
up() { cut -d' ' -f1 /proc/uptime; }
echo "L1-INIT $(up) s after L1's kernel started"

for m in irqbypass ccp kvm kvm-amd tun; do
	insmod /lib/modules/$m.ko 2>/tmp/err || echo "L1 insmod $m: $(cat /tmp/err)"
done
if [ -c /dev/kvm ]; then
	check l1/kvm PASS "/dev/kvm after irqbypass ccp kvm kvm-amd ($(grep -c svm /proc/cpuinfo) cpu(s) with svm)"
else
	check l1/kvm FAIL "no /dev/kvm: $(dmesg | grep -i -E 'kvm|svm' | tail -3 | tr '\n' ' ')"
	echo "L1-DONE"
	poweroff -f
fi

L2K=/l2/vmlinuz
L2I=/l2/initrd.gz
# A quiet L2: every console byte is a serial exit (one per byte under our vmm).
# pci=off: the VM has no PCI, and L1's CPU (TCG max: AMD family 15) would
# otherwise have Linux scan all 256 buses twice for an AGP bridge (the GART
# aperture check): 33 000 port exits, most of the boot's exits.
L2CMD="console=ttyS0 quiet loglevel=3 pci=off"

# The host side of the console: answers the guest's "<pattern>-g2h" line
# with "<pattern>-h2g" and keeps what it got in /tmp/con.out.
console_peer() {
	rm -f /tmp/con.sock /tmp/con.out
	nested_tool console-peer /tmp/con.sock "$nested_pattern-g2h" "$nested_pattern-h2g" \
		/tmp/con.out 120 &
	for _ in $(seq 50); do [ -S /tmp/con.sock ] && break; sleep 0.05; done
}

# When the vmm's TAP appears, give it the host address L2 pings.
tap_up() {
	for _ in $(seq 600); do
		if [ -e /sys/class/net/vmmtap0 ]; then
			ip addr add 10.0.2.1/24 dev vmmtap0 && ip link set vmmtap0 up && return 0
		fi
		sleep 0.05
	done
	echo "L1 tap_up: no vmmtap0"
}

vmm_run() { # NAME CPUS DEVICES END
	name=$1 cpus=$2 devs=$3 endm=$4
	[ "$devs" = all ] && devs=block+rng+net+console+vsock+balloon
	[ "$devs" = none ] && devs=
	args="--cpus $cpus --memory 256M"
	checks=cpus,acpi,serial
	nvirtio=0
	l2end=poweroff
	term=
	verbose=${nested_verbose:-0}
	bpages=
	case $endm in
	reboot) l2end=reboot ;;
	stop) l2end=wait; term="--term-on L2-READY" ;;
	esac
	for d in $(echo "$devs" | tr + ' '); do
		checks="$checks,$d"
		nvirtio=$((nvirtio + 1))
		case $d in
		block)
			rm -f /tmp/rw.img /tmp/ro.img
			truncate -s 32M /tmp/rw.img
			head -c 1048576 /dev/urandom > /tmp/ro.img
			ro_sum=$(sha256sum < /tmp/ro.img)
			nvirtio=$((nvirtio + 1))
			args="$args --block /tmp/rw.img,id=nested-rw --block /tmp/ro.img,ro,id=nested-ro" ;;
		rng) args="$args --virtio-rng" ;;
		net) args="$args --default-net"; tap_up & ;;
		console) console_peer; args="$args --virtio-console --console unix:/tmp/con.sock" ;;
		vsock)
			# Guest connections to host port 5000 reach this echo service.
			rm -f /tmp/vsock.sock
			timeout 100 nested_tool unix-echo /tmp/vsock.sock 1 &
			args="$args --virtio-vsock --vsock-listen 5000:/tmp/vsock.sock" ;;
		balloon)
			# The host asks for 16 MiB; -v: the vmm's balloon summary at exit.
			bpages=4096 verbose=1
			args="$args --virtio-balloon --balloon-pages $bpages" ;;
		esac
	done
	[ "$verbose" = 1 ] && args="$args -v"
	echo "L1 run $name: vmm run $args"
	set -o pipefail
	nested_tool run --prefix "L2[$name]" --marker L2-INIT --timeout "${nested_run_timeout:-150}" $term -- \
		vmm run --kernel $L2K --ramdisk $L2I $args \
		--cmdline "$L2CMD nested_checks=$checks nested_virtio=$nvirtio nested_vsock_port=5000 nested_cpus=$cpus nested_end=$l2end nested_pattern=$nested_pattern${bpages:+ nested_balloon_pages=$bpages}" \
		< /dev/null | tee /tmp/run.log
	rc=$?
	set +o pipefail
	case $endm in
	stop)
		# Stop from the host: Run returns CONTROLLER_FORCED_HALT, exit 1.
		if [ $rc = 1 ] && grep -q 'Run failed: CONTROLLER_FORCED_HALT' /tmp/run.log; then
			check "$name/vmm-exit" PASS "SIGTERM stopped the guest: CONTROLLER_FORCED_HALT, exit 1"
		else
			check "$name/vmm-exit" FAIL "exit status $rc after SIGTERM, want 1 with CONTROLLER_FORCED_HALT"
		fi ;;
	*)
		if [ $rc = 0 ] && grep -q "L2-END $endm" /tmp/run.log; then
			check "$name/vmm-exit" PASS "guest's $endm -f: Run returned success (exit 0)"
		else
			check "$name/vmm-exit" FAIL "exit status $rc, want 0 after the guest's $endm"
		fi ;;
	esac
	case "+$devs+" in *+block+*)
		dd if=/tmp/rw.img bs=512 skip=2048 count=1 2>/dev/null | grep -q "$nested_pattern" \
			&& check "$name/block-rw-host" PASS "pattern in the image file at sector 2048" \
			|| check "$name/block-rw-host" FAIL "pattern not in the image file"
		[ "$(sha256sum < /tmp/ro.img)" = "$ro_sum" ] \
			&& check "$name/block-ro-host" PASS "read-only image unchanged" \
			|| check "$name/block-ro-host" FAIL "read-only image changed"
		rm -f /tmp/rw.img /tmp/ro.img ;;
	esac
	case "+$devs+" in *+balloon+*)
		# Every page the guest put in the balloon was given back to L1
		# (MADV_REMOVE on the guest-memory memfd), and the driver's actual
		# reached the target (at shutdown Linux resets the device, which
		# puts actual back to 0 without deflating: the peak is what counts).
		b=$(grep -o 'balloon: [0-9]* pages inflated.*' /tmp/run.log)
		inf=$(echo "$b" | sed -n 's/^balloon: \([0-9]*\) pages inflated.*/\1/p')
		act=$(echo "$b" | sed -n 's/.* (at most \([0-9]*\)) of .*/\1/p')
		ret=$(echo "$b" | sed -n 's/.* \([0-9]*\) bytes returned.*/\1/p')
		[ "$inf" = "$bpages" ] && [ "$act" = "$bpages" ] && [ "$ret" = $((bpages * 4096)) ] \
			&& check "$name/balloon-host" PASS "$b" \
			|| check "$name/balloon-host" FAIL "${b:-no balloon summary from the vmm}, want $bpages pages" ;;
	esac
	case "+$devs+" in *+console+*)
		wait
		grep -q "$nested_pattern-g2h" /tmp/con.out 2>/dev/null \
			&& check "$name/console-g2h" PASS "guest's line on the vmm's console socket" \
			|| check "$name/console-g2h" FAIL "guest's line not on the console socket" ;;
	esac
	wait
}

echo "L1 runs: ${nested_runs:-none}"
for r in $(echo "${nested_runs:-}" | tr , ' '); do
	IFS=: read -r n c d e <<EOF
$r
EOF
	vmm_run "$n" "$c" "$d" "$e"
done

if [ "${nested_microvm:-0}" = 1 ]; then
	# The same kernel, initrd and command line under both, no devices, no
	# checks: time from starting the VMM to L2's first line from init.
	# Alternated rounds, so a busy host slows both alike.
	record=
	[ "${nested_record:-0}" = 1 ] && record=/tmp/boot.db
	for i in $(seq "${nested_boot_rounds:-1}"); do
		echo "L1 boot-time round $i: vmm"
		nested_tool run --prefix "L2[boot-vmm-$i]" --marker L2-INIT --timeout 120 -- \
			vmm run --kernel $L2K --ramdisk $L2I --memory 256M ${record:+--record $record} \
			--cmdline "$L2CMD nested_checks=" < /dev/null
		rc=$?
		[ $rc = 0 ] && check boot-vmm-$i/vmm-exit PASS "exit 0" \
			|| check boot-vmm-$i/vmm-exit FAIL "exit $rc"
		if [ -n "$record" ] && [ -s "$record" ]; then
			echo "TRACE-BEGIN $(wc -c < $record) bytes"
			gzip -9 -c $record | base64
			echo "TRACE-END"
			rm -f "$record"
		fi
		record=
		echo "L1 boot-time round $i: qemu microvm"
		nested_tool run --prefix "L2[boot-qemu-$i]" --marker L2-INIT --timeout 120 -- \
			qemu-system-x86_64 -L /usr/share/qemu -enable-kvm -cpu host -M microvm,acpi=on \
			-m 256M -smp 1 -nodefaults -no-user-config -nographic -no-reboot -serial stdio \
			-kernel $L2K -initrd $L2I -append "$L2CMD nested_checks=" < /dev/null
		rc=$?
		[ $rc = 0 ] && check boot-qemu-$i/qemu-exit PASS "exit 0" \
			|| check boot-qemu-$i/qemu-exit FAIL "exit $rc"
	done
fi
echo "L1-DONE"
sync
poweroff -f
