#!/bin/busybox sh
# tests/nested/l2-init.sh - /init of the L2 initramfs: the Debian kernel
# booted by our vmm (or, for the boot-time comparison, by QEMU microvm)
# inside L1.
#
# Each check prints one line L1 passes on to the host:
#   CHECK <name> PASS|FAIL|SKIP <detail>
# and measurements as FIGURE <name> <value> <unit>. What to do comes from the
# kernel command line (name=value parameters are init's environment):
#   nested_checks  comma list of checks (empty: none, just the boot)
#   nested_cpus    how many CPUs Linux must have brought up
#   nested_virtio  how many virtio-mmio devices the DSDT must describe
#   nested_pattern bytes written to the rw disk (L1 looks for them afterwards)
#   nested_end     poweroff (default), reboot, or wait (L1 stops the vmm)
# Its first line, L2-INIT, is the boot-time marker: L1 times it from the
# moment it started the vmm (or QEMU).
echo "L2-INIT"
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
echo "FIGURE init-at-uptime $(cut -d' ' -f1 /proc/uptime) s"
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp

check() { echo "CHECK $1 $2 ${3:-}"; }

end() {
	case ${nested_end:-poweroff} in
	reboot) echo "L2-END reboot"; reboot -f ;;
	wait) echo "L2-READY"; while :; do sleep 60; done ;;
	*) echo "L2-END poweroff"; poweroff -f ;;
	esac
	sleep 10
	echo "L2-END-FAILED still running after ${nested_end:-poweroff} -f"
	while :; do sleep 60; done
}

if [ -z "${nested_checks:-}" ]; then end; fi

memtotal() { sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo; }
# Before the balloon driver takes pages off it.
mem_before=$(memtotal)
# Debian builds virtio (core, ring and the mmio transport) and every driver
# as modules: dependencies first.
t0=$(cut -d' ' -f1 /proc/uptime)
for m in virtio_ring virtio virtio_mmio virtio_blk virtio-rng virtio_console \
	virtio_balloon failover net_failover virtio_net vsock \
	vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport; do
	[ -e /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/tmp/insmod.err ||
		echo "insmod $m: $(cat /tmp/insmod.err)"
done
# Probing is synchronous in insmod, but device nodes appear via devtmpfs a
# moment later.
sleep 0.3
echo "FIGURE modules-loaded $(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN{printf "%.2f", b-a}') s"

# The virtio devices by device ID: echo the sysfs folder of the first.
virtio_dev() {
	for d in /sys/bus/virtio/devices/*; do
		[ "$(cat "$d/device" 2>/dev/null)" = "$1" ] && { echo "$d"; return 0; }
	done
	return 1
}
bound() { # name device-id driver
	d=$(virtio_dev "$2") || { check "$1-driver" FAIL "no virtio device $2 (ACPI LNRO0005 not probed?)"; return 1; }
	drv=$(basename "$(readlink "$d/driver" 2>/dev/null)")
	if [ "$drv" = "$3" ]; then check "$1-driver" PASS "${d##*/} bound to $drv"; return 0; fi
	check "$1-driver" FAIL "${d##*/} driver '${drv:-none}', want $3"
	return 1
}

disk_by_serial() {
	for d in /sys/block/vd*; do
		[ -e "$d/serial" ] || continue
		[ "$(cat "$d/serial")" = "$1" ] && { echo "/dev/${d##*/}"; return 0; }
	done
	return 1
}

c_cpus() {
	n=$(grep -c '^processor' /proc/cpuinfo)
	cs=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)
	[ "$n" = "${nested_cpus:-1}" ] && check cpus PASS "$n online, clocksource $cs" \
		|| check cpus FAIL "$n online, want ${nested_cpus:-1}"
}

c_acpi() {
	# Hardware-reduced ACPI: the tables the vmm wrote are the ones Linux uses.
	t=$(ls /sys/firmware/acpi/tables 2>/dev/null | tr '\n' ' ')
	case $t in
	*APIC*DSDT*FACP*|*DSDT*FACP*) check acpi-tables PASS "$t" ;;
	*) check acpi-tables FAIL "tables: ${t:-none}" ;;
	esac
	# One LNRO0005 device per virtio device the vmm was given.
	n=$(ls -d /sys/bus/acpi/devices/LNRO0005:* 2>/dev/null | wc -l)
	[ "$n" = "${nested_virtio:-0}" ] && check acpi-virtio-mmio PASS "$n LNRO0005 devices" \
		|| check acpi-virtio-mmio FAIL "$n LNRO0005 devices, want ${nested_virtio:-0}"
}

c_serial() {
	# This line itself came over ttyS0; the IRQ count says the 8250 is
	# interrupt-driven (not polled).
	irq=$(awk '/ttyS0|serial/ {s=0; for (i=2;i<=NF;i++) if ($i ~ /^[0-9]+$/) s+=$i; print s; exit}' /proc/interrupts)
	check serial PASS "ttyS0 output, ${irq:-0} interrupts"
}

c_block() {
	bound block 0x0002 virtio_blk || return
	dev=$(disk_by_serial nested-rw) || { check block-rw FAIL "no disk with serial nested-rw"; return; }
	printf '%s' "$nested_pattern" > /tmp/pat
	# Through the page cache, fsync (the driver sends FLUSH), drop the cache,
	# read back from the device.
	dd if=/tmp/pat of="$dev" bs=512 seek=2048 count=1 conv=sync,fsync 2>/dev/null
	echo 3 > /proc/sys/vm/drop_caches
	got=$(dd if="$dev" bs=512 skip=2048 count=1 2>/dev/null | head -c ${#nested_pattern})
	[ "$got" = "$nested_pattern" ] && check block-rw PASS "$dev sector 2048, fsync, read back" \
		|| check block-rw FAIL "read back '$got'"
	size=$(cat /sys/block/${dev#/dev/}/size)
	[ "$size" = 65536 ] && check block-capacity PASS "$size sectors" \
		|| check block-capacity FAIL "$size sectors"
	ro=$(disk_by_serial nested-ro) || { check block-ro FAIL "no disk with serial nested-ro"; return; }
	if [ "$(cat /sys/block/${ro#/dev/}/ro)" = 1 ] &&
		! dd if=/dev/zero of="$ro" bs=512 count=1 conv=fsync 2>/dev/null; then
		check block-ro PASS "$ro read-only, write refused"
	else
		check block-ro FAIL "$ro writable"
	fi
}

c_rng() {
	bound rng 0x0004 virtio_rng || return
	cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
	n=$(dd if=/dev/hwrng bs=64 count=4 2>/dev/null | wc -c)
	[ "$n" = 256 ] && check rng-hwrng PASS "256 bytes from /dev/hwrng ($cur)" \
		|| check rng-hwrng FAIL "$n bytes from /dev/hwrng ($cur)"
}

c_net() {
	bound net 0x0001 virtio_net || return
	dev=$(ls /sys/class/net | grep -v '^lo$' | head -1)
	ip link set lo up
	ip addr add 10.0.2.15/24 dev "$dev"
	ip link set "$dev" up
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ "$(cat /sys/class/net/$dev/operstate)" = up ] && break
		sleep 0.1
	done
	state=$(cat /sys/class/net/$dev/operstate)
	addr=$(ip -4 addr show dev "$dev" | awk '/inet /{print $2}')
	[ "$state" = up ] && [ "$addr" = 10.0.2.15/24 ] \
		&& check net-link PASS "$dev $(cat /sys/class/net/$dev/address) $state $addr" \
		|| check net-link FAIL "$dev $state ${addr:-no address}"
	# L1 configured 10.0.2.1 on the vmm's TAP.
	if ping -c 2 -i 0.3 -W 3 10.0.2.1 > /tmp/ping 2>&1; then
		check net-ping PASS "$(grep -o '[0-9]* packets received' /tmp/ping) from the TAP's address"
	else
		check net-ping FAIL "$(tail -2 /tmp/ping | tr '\n' ' ')"
	fi
}

c_console() {
	bound console 0x0003 virtio_console || return
	for _ in 1 2 3 4 5 6 7 8 9 10; do [ -e /dev/hvc0 ] && break; sleep 0.1; done
	[ -e /dev/hvc0 ] || { check console FAIL "no /dev/hvc0"; return; }
	exec 3<> /dev/hvc0
	stty raw -echo <&3 2>/dev/null
	# Guest -> host: L1 finds this line in the vmm's console output and
	# answers with "<pattern>-h2g".
	echo "$nested_pattern-g2h" >&3
	line=
	read -t 10 line <&3
	exec 3<&-
	line=$(echo "$line" | tr -d '\r')
	[ "$line" = "$nested_pattern-h2g" ] && check console-h2g PASS "read from /dev/hvc0" \
		|| check console-h2g FAIL "read '$line'"
}

c_vsock() {
	bound vsock 0x0013 vmw_vsock_virtio_transport || return
	[ -e /dev/vsock ] && check vsock-dev PASS "/dev/vsock, local CID $(/bin/nested_tool vsock-cid 2>&1)" \
		|| check vsock-dev FAIL "no /dev/vsock"
	# A connection to the host (CID 2): L1's listener answers "<line>-vsock".
	if [ -n "${nested_vsock_port:-}" ]; then
		got=$(/bin/nested_tool vsock-client "$nested_vsock_port" "$nested_pattern" 2>&1)
		[ "$got" = "$nested_pattern-vsock" ] && check vsock-connect PASS "echo via host port $nested_vsock_port" \
			|| check vsock-connect FAIL "got '$got'"
	fi
}

c_balloon() {
	bound balloon 0x0005 virtio_balloon || return
	[ -n "${nested_balloon_pages:-}" ] || return
	# The host asked for the pages before the driver probed: the driver
	# inflates in batches of 256 pages (one queue kick each) and takes each
	# page off MemTotal (no DEFLATE_ON_OOM). All of it, within 30 s.
	want=$nested_balloon_pages
	while :; do
		total=$(memtotal)
		inflated=$(sed -n 's/^balloon_inflate //p' /proc/vmstat)
		t=$(cut -d' ' -f1 /proc/uptime)
		[ "${inflated:-0}" -ge "$want" ] && break
		awk -v a="$t0" -v b="$t" 'BEGIN { exit !(b - a > 30) }' && break
		sleep 0.1
	done
	fell=$((mem_before - total))
	echo "FIGURE balloon-memtotal-fall $fell kB (MemTotal $mem_before -> $total kB, $(awk -v a="$t0" -v b="$t" 'BEGIN{printf "%.2f", b-a}') s after loading the modules)"
	if [ "${inflated:-0}" = "$want" ] && [ "$fell" = $((want * 4)) ]; then
		check balloon-inflate PASS "$want pages inflated, MemTotal $fell kB lower"
	else
		check balloon-inflate FAIL "${inflated:-0} of $want pages inflated, MemTotal $fell kB lower"
	fi
}

for c in $(echo "$nested_checks" | tr , ' '); do
	case $c in
	cpus) c_cpus ;;
	acpi) c_acpi ;;
	serial) c_serial ;;
	block) c_block ;;
	rng) c_rng ;;
	net) c_net ;;
	console) c_console ;;
	vsock) c_vsock ;;
	balloon) c_balloon ;;
	*) check "$c" FAIL "unknown check" ;;
	esac
done
sync
echo "L2-DONE"
end
