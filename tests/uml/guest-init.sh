#!/bin/busybox sh
# tests/uml/guest-init.sh - /init of the UML test initramfs.
#
# Runs inside user-mode Linux, whose devices are served by vmm_device over
# vhost-user. Every check prints exactly one line the host harness parses:
#   CHECK <name> PASS|FAIL|SKIP <detail>
# and measurements as
#   FIGURE <name> <value> <unit>
# What to check comes from the kernel command line (name=value parameters are
# init's environment): uml_checks (comma list), uml_pattern (bytes the host
# looks for afterwards).
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp

check() { echo "CHECK $1 $2 ${3:-}"; }
memtotal() { sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo; }

# MemTotal before the balloon driver loads: it varies from boot to boot by
# several MiB (about 100000 to 117500 kB at mem=128M), so the balloon check
# measures the fall from here, not against a fixed figure.
mem_before=$(memtotal)
t_modules=$(cut -d' ' -f1 /proc/uptime)
# Modules the checks need, in dependency order; missing ones are reported by
# the check that needs them.
for m in /lib/modules/*.ko; do
	[ -e "$m" ] && insmod "$m" 2>/dev/null
done
sleep 0.2 2>/dev/null || sleep 1

# The virtio-blk disk whose serial (the device's GET_ID) is $1.
disk_by_serial() {
	for d in /sys/block/vd*; do
		[ -e "$d/serial" ] || continue
		if [ "$(cat "$d/serial")" = "$1" ]; then echo "/dev/${d##*/}"; return 0; fi
	done
	return 1
}

# Seconds since boot, 10 ms resolution (busybox dd prints no rate and
# busybox date has no %N).
now() { read -r up _ < /proc/uptime; echo "$up"; }
# MB/s for $1 MiB moved between times $2 and $3.
rate() { awk -v m="$1" -v a="$2" -v b="$3" 'BEGIN { d = b - a; if (d <= 0) d = 0.01;
	printf "%.1f", m * 1.048576 / d }'; }

block_rw() {
	dev=$(disk_by_serial uml-rw) || { check block-rw FAIL "no disk with serial uml-rw"; return; }
	check block-get-id PASS "$dev serial uml-rw"
	# Write through the page cache, fsync (the driver sends FLUSH), drop the
	# cache, read back from the device.
	printf '%s' "$uml_pattern" > /tmp/pat
	dd if=/tmp/pat of="$dev" bs=512 seek=2048 count=1 conv=sync,fsync 2>/dev/null
	echo 3 > /proc/sys/vm/drop_caches
	got=$(dd if="$dev" bs=512 skip=2048 count=1 2>/dev/null | head -c ${#uml_pattern})
	if [ "$got" = "$uml_pattern" ]; then check block-rw PASS "$dev sector 2048"
	else check block-rw FAIL "read back '$got'"; fi
	# Throughput: 64 MiB written (O_DIRECT, then fsync) and read back;
	# not while devices record traces (uml_light=1: they stay small).
	[ "${uml_light:-0}" = 1 ] && return
	t0=$(now)
	dd if=/dev/zero of="$dev" bs=1M seek=4 count=64 oflag=direct conv=fsync 2>/dev/null
	t1=$(now)
	# Reads are faster: four passes, so the 10 ms clock still resolves them.
	for _ in 1 2 3 4; do
		dd if="$dev" of=/dev/null bs=1M skip=4 count=64 iflag=direct 2>/dev/null
	done
	t2=$(now)
	echo "FIGURE block-write-64MiB-direct $(rate 64 "$t0" "$t1") MB/s"
	echo "FIGURE block-read-4x64MiB-direct $(rate 256 "$t1" "$t2") MB/s"
	size=$(cat /sys/block/${dev#/dev/}/size)
	[ "$size" = 196608 ] && check block-capacity PASS "$size sectors" || check block-capacity FAIL "$size sectors"
}

block_volatile() {
	dev=$(disk_by_serial uml-vol) || { check block-volatile FAIL "no disk with serial uml-vol"; return; }
	printf '%s' "$uml_pattern" > /tmp/pat
	dd if=/tmp/pat of="$dev" bs=512 seek=16 count=1 conv=sync,fsync 2>/dev/null
	echo 3 > /proc/sys/vm/drop_caches
	got=$(dd if="$dev" bs=512 skip=16 count=1 2>/dev/null | head -c ${#uml_pattern})
	if [ "$got" = "$uml_pattern" ]; then check block-volatile PASS "guest sees its write"
	else check block-volatile FAIL "read back '$got'"; fi
}

block_ro() {
	dev=$(disk_by_serial uml-ro) || { check block-ro FAIL "no disk with serial uml-ro"; return; }
	ro=$(cat /sys/block/${dev#/dev/}/ro)
	if [ "$ro" = 1 ] && ! dd if=/dev/zero of="$dev" bs=512 count=1 conv=fsync 2>/dev/null; then
		check block-ro PASS "read-only, write refused"
	else
		check block-ro FAIL "ro=$ro"
	fi
}

rng() {
	found=
	for d in /sys/bus/virtio/devices/*; do
		[ "$(cat "$d/device")" = 0x0004 ] && found=$d
	done
	[ -n "$found" ] && check rng-enumerated PASS "${found##*/} device 0x0004" \
		|| { check rng-enumerated FAIL "no virtio device 4"; return; }
	if [ -e "$found/driver" ]; then
		n=$(dd if=/dev/hwrng bs=64 count=4 2>/dev/null | wc -c)
		[ "$n" = 256 ] && check rng-hwrng PASS "256 bytes from /dev/hwrng" \
			|| check rng-hwrng FAIL "$n bytes from /dev/hwrng"
	else
		check rng-hwrng SKIP "kernel has no virtio-rng driver (CONFIG_HW_RANDOM_VIRTIO unset)"
	fi
}

console() {
	for _ in 1 2 3 4 5 6 7 8 9 10; do [ -e /dev/hvc0 ] && break; sleep 0.1; done
	[ -e /dev/hvc0 ] || { check console FAIL "no /dev/hvc0"; return; }
	# One open for the whole check: closing the tty would discard input it
	# already pulled from the device.
	exec 3<> /dev/hvc0
	stty raw -echo <&3 2>/dev/null
	# Guest -> host: the host harness finds this line in vmm_device's stdout.
	echo "$uml_pattern-g2h" >&3
	# Host -> guest: vmm_device's stdin holds this line; it waited in the
	# device until the driver queued receive buffers.
	line=
	read -t 3 line <&3
	exec 3<&-
	if [ "$line" = "$uml_pattern-h2g" ]; then check console-h2g PASS "read from /dev/hvc0"
	else check console-h2g FAIL "read '$line'"; fi
}

balloon() {
	# The host asked for 4096 pages (16 MiB) before the driver probed; the
	# driver inflates in batches of 256 pages, each a round trip to
	# vmm_device, and takes each page off MemTotal. All of it, within 10 s of
	# loading the modules (0.2 to 0.8 s measured, idle or loaded host).
	want=4096
	while :; do
		total=$(memtotal)
		inflated=$(sed -n 's/^balloon_inflate //p' /proc/vmstat)
		t=$(cut -d' ' -f1 /proc/uptime)
		[ "${inflated:-0}" -ge $want ] && break
		awk -v a="$t_modules" -v b="$t" 'BEGIN { exit !(b - a > 10) }' && break
		sleep 0.1
	done
	fell=$((mem_before - total))
	echo "FIGURE balloon-memtotal-fall $fell kB (MemTotal $mem_before -> $total kB)"
	if [ "${inflated:-0}" = $want ] && [ $fell = $((want * 4)) ]; then
		check balloon-inflate PASS "$want pages inflated, MemTotal $fell kB lower"
	else
		check balloon-inflate FAIL "${inflated:-0} of $want pages inflated, MemTotal $fell kB lower (by $t s)"
	fi
}

net() {
	ip link set lo up
	dev=$(ls /sys/class/net | grep -v '^lo$' | head -1)
	[ -n "$dev" ] || { check net-ping FAIL "no network interface"; return; }
	mac=$(cat /sys/class/net/$dev/address)
	[ "$mac" = 52:54:00:12:34:56 ] && check net-mac PASS "$dev $mac" || check net-mac FAIL "$dev $mac"
	ip addr add 10.0.2.15/24 dev "$dev"
	ip link set "$dev" up
	if ping -c 2 -i 0.2 -W 2 10.0.2.1 > /tmp/ping 2>&1; then
		check net-ping PASS "$(grep -o '[0-9]* packets received' /tmp/ping)"
	else
		check net-ping FAIL "$(tail -2 /tmp/ping | tr '\n' ' ')"
	fi
	# TCP both ways: the host's listener echoes the pattern back reversed in case.
	got=$(echo "$uml_pattern" | nc -w 3 10.0.2.1 7777 2>/dev/null)
	[ "$got" = "$uml_pattern-tcp" ] && check net-tcp PASS "echo over TCP to the TAP address" \
		|| check net-tcp FAIL "got '$got'"
}

vsock() {
	[ -e /sys/bus/virtio/drivers/vmw_vsock_virtio_transport ] \
		|| { check vsock FAIL "no vmw_vsock_virtio_transport driver"; return; }
	n=${uml_vsock_bytes:-0}
	# Host -> guest: the host's client (through vmm_device's connect socket)
	# retries until this listens; the helper echoes that one connection.
	vsock_helper echo 5000 > /tmp/vecho 2>&1 &
	echo_pid=$!
	# Guest -> host: CID 2 port 1234 is bridged to the host's echo server.
	got=$(vsock_helper call 2 1234 "$uml_pattern-vsock-g" "$n")
	case $got in
	"ECHO OK "*) check vsock-g2h PASS "guest connect to host port 1234: ${got#ECHO OK }"
		echo "FIGURE vsock-echo-guest-initiated $(echo "$got" | awk '{print $7}') MB/s ($(echo "$got" | awk '{print $3}') bytes each way)" ;;
	*) check vsock-g2h FAIL "${got:-no answer}" ;;
	esac
	# Nothing listens on host port 1235: the device answers RST.
	got=$(vsock_helper call 2 1235 x)
	case $got in
	*"Connection refused"*|*"Connection reset"*) check vsock-refused PASS "host port 1235: ${got#ECHO FAIL }" ;;
	*) check vsock-refused FAIL "${got:-no answer}" ;;
	esac
	# The echo server exits once the host's connection is done (or after
	# its own 20 s limit).
	wait "$echo_pid" && check vsock-guest-listen PASS "echoed the host's connection" \
		|| check vsock-guest-listen FAIL "$(cat /tmp/vecho)"
}

for c in $(echo "${uml_checks:-}" | tr , ' '); do
	case $c in
	block-rw) block_rw ;;
	block-volatile) block_volatile ;;
	block-ro) block_ro ;;
	rng) rng ;;
	console) console ;;
	balloon) balloon ;;
	net) net ;;
	vsock) vsock ;;
	net-skip) ;;
	*) check "$c" FAIL "unknown check" ;;
	esac
done
echo "GUEST-DONE"
sync
poweroff -f
