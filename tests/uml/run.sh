#!/bin/bash
# tests/uml/run.sh BUILD_DIR - real Linux virtio drivers against our devices.
#
# Boots Debian's user-mode Linux (no KVM needed) with virtio_uml devices whose
# vhost-user back ends are BUILD_DIR/vmm_device processes, runs the checks in
# guest-init.sh, then checks on the host what the guest's actions must have
# done to the host files. Prints one "CHECK <name> PASS|FAIL|SKIP ..." line
# per check and "FIGURE ..." lines; exits 0 only if no check failed.
# See README.md in this folder.
set -uo pipefail
B=${1:?usage: run.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
DEV=$B/vmm_device
UML=${UML:-/usr/bin/linux.uml}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-40}

fails=0
check() { echo "CHECK $1 $2 ${3:-}"; [ "$2" = FAIL ] && fails=$((fails + 1)); return 0; }

[ -x "$UML" ] || { echo "SKIP-UML: $UML missing (scripts/deps.sh installs user-mode-linux)"; exit 77; }
[ -x "$DEV" ] || { echo "run.sh: $DEV not built"; exit 2; }
VH=$B/vsock_helper
[ -x "$VH" ] || { echo "run.sh: $VH not built"; exit 2; }
# Bytes each vsock echo carries after its line (both ways at once).
VSOCK_BYTES=${VSOCK_BYTES:-4194304}
KVER=$(ls /usr/lib/uml/modules 2>/dev/null | head -1)
MODS=/usr/lib/uml/modules/$KVER/kernel

# Everything a run makes is removed when it ends, however it ends.
RUNDIR=
# Sockets live under /tmp: a Unix socket path must stay under 108 bytes.
W=$(mktemp -d /tmp/vmm-uml.XXXXXX)
pids=()
# Helpers that serve the whole run (not device servers, whose list is
# cleared once each has been reaped): killed at exit whatever happened.
helper_pids=()
cleanup() {
	for p in "${pids[@]+"${pids[@]}"}" "${helper_pids[@]+"${helper_pids[@]}"}"; do
		kill "$p" 2>/dev/null
	done
	rm -rf "$W" "$RUNDIR"
}
trap cleanup EXIT

# ---- initramfs: busybox, our /init, the virtio driver modules ----
# Rebuilt each run (~50 ms, so never stale), in a folder of the run's own:
# two runs in one build folder must not share it.
mkdir -p "$B/uml"
RUNDIR=$(mktemp -d "$B/uml/run.XXXXXX")
ROOTFS=$RUNDIR/rootfs
INITRD=$RUNDIR/initrd.cpio.gz
mkdir -p "$ROOTFS"/{bin,lib/modules,proc,sys,dev,tmp}
cp /bin/busybox "$ROOTFS/bin/busybox"
cp "$HERE/guest-init.sh" "$ROOTFS/init"
cp "$VH" "$ROOTFS/bin/vsock_helper"
chmod 755 "$ROOTFS/init"
# insmod order matters: dependencies first (numbered so the glob sorts them).
i=10
for m in drivers/block/virtio_blk.ko drivers/char/virtio_console.ko \
	drivers/virtio/virtio_balloon.ko net/core/failover.ko drivers/net/net_failover.ko \
	drivers/net/virtio_net.ko net/vmw_vsock/vsock.ko \
	net/vmw_vsock/vmw_vsock_virtio_transport_common.ko \
	net/vmw_vsock/vmw_vsock_virtio_transport.ko; do
	[ -f "$MODS/$m" ] && cp "$MODS/$m" "$ROOTFS/lib/modules/$i-$(basename "$m")"
	i=$((i + 1))
done
(cd "$ROOTFS" && find . | cpio -o -H newc --quiet | gzip -1) > "$INITRD" || {
	echo "run.sh: cannot build the initramfs"; exit 2; }

# ---- host side: images and device processes ----

PATTERN="vmm-uml-$$-$RANDOM$RANDOM"
[ -n "${RECORD_DIR:-}" ] && PATTERN=vmm-uml-recorded # recordings: the same bytes each time
truncate -s 96M "$W/rw.img"
head -c $((4 << 20)) /dev/urandom > "$W/vol.img"
head -c $((1 << 20)) /dev/urandom > "$W/ro.img"
vol_sum=$(sha256sum < "$W/vol.img")
ro_sum=$(sha256sum < "$W/ro.img")

# RECORD_DIR=DIR: each device process records a device-level trace DIR/NAME.db
# (vmm_device --record; traces/record.sh uses this for traces/bundled/), and
# the guest skips its throughput figures (uml_light=1) to keep them small.
rec() { [ -n "${RECORD_DIR:-}" ] && echo "--record $RECORD_DIR/$1.db"; }
start_dev() { # name args...
	local name=$1; shift
	"$DEV" --socket "$W/$name.sock" --once $(rec "$name") "$@" 2> "$W/$name.log" &
	pids+=($!)
	eval "pid_$name=$!"
}
start_dev rw --device block --image "$W/rw.img" --mode rw --id uml-rw
start_dev vol --device block --image "$W/vol.img" --mode volatile --id uml-vol
start_dev ro --device block --image "$W/ro.img" --mode ro --id uml-ro
start_dev rng --device rng
# console: stdin is a FIFO the harness writes once it has seen the guest's
# line on stdout, like a person answering a prompt (input typed before the
# guest opens /dev/hvc0 would sit in the port until the next interrupt).
mkfifo "$W/con.in"
exec 5<> "$W/con.in"
"$DEV" --socket "$W/con.sock" --once $(rec con) --device console -v < "$W/con.in" > "$W/con.out" 2> "$W/con.log" &
pids+=($!); pid_con=$!
(
	for _ in $(seq 1500); do
		grep -q "$PATTERN-g2h" "$W/con.out" 2>/dev/null && { printf '%s\n' "$PATTERN-h2g" >&5; exit 0; }
		sleep 0.02
	done
) &
pids+=($!)
start_dev balloon --device balloon --balloon-pages 4096 -v
# vsock: guest connections to host port 1234 reach a Unix echo server;
# the host's connection to guest port 5000 goes through vconn.sock (a
# client that retries until the guest listens).
"$VH" unix-echo "$W/vecho.sock" > /dev/null 2>&1 &
helper_pids+=($!)
start_dev vsock --device vsock --vsock-listen 1234:"$W/vecho.sock" \
	--vsock-connect-socket "$W/vconn.sock" -v
devs="rw vol ro rng con balloon vsock"
# net: a TAP in a network namespace of its own (nothing on the host's
# network changes), address 10.0.2.1, and a TCP echo service on it.
net_check=net
if unshare -n true 2>/dev/null && [ -c /dev/net/tun ] && command -v ip > /dev/null; then
	unshare -n bash -c '
		ip tuntap add dev umltap0 mode tap && ip addr add 10.0.2.1/24 dev umltap0 &&
		ip link set umltap0 up && ip link set lo up || exit 1
		# One TCP connection: answer the line with "<line>-tcp".
		# Bounded, and off our stdout: left running when the guest never
		# connects, it would hold the pipe of whoever runs us.
		( exec timeout 60 busybox nc -l -p 7777 -e sh -c "read l; echo \"\$l-tcp\"" ) \
			< /dev/null > /dev/null 2>&1 &
		exec "$0" --socket "$1" --once $2 --device net --tap umltap0 -v' \
		"$DEV" "$W/net.sock" "$(rec net)" 2> "$W/net.log" &
	pids+=($!); pid_net=$!
	devs="$devs net"
else
	net_check=net-skip
	check net-ping SKIP "no network namespace or /dev/net/tun here (needs root)"
fi
for n in $devs; do
	for _ in $(seq 100); do [ -S "$W/$n.sock" ] && break; sleep 0.02; done
	[ -S "$W/$n.sock" ] || { check "$n-listen" FAIL "no socket"; cat "$W/$n.log"; exit 1; }
done

# ---- boot ----
for _ in $(seq 100); do [ -S "$W/vconn.sock" ] && [ -S "$W/vecho.sock" ] && break; sleep 0.02; done
"$VH" unix-call "$W/vconn.sock" 5000 "$PATTERN-vsock-h" "$VSOCK_BYTES" > "$W/vsock-h.out" 2>&1 &
pids+=($!); pid_vcall=$!
t0=$(date +%s.%N)
# con0 on our stdio and no other consoles: the checks' lines reach the log.
timeout -k 5 "$BOOT_TIMEOUT" "$UML" mem=128M initrd="$INITRD" con=null con0=fd:0,fd:1 \
	quiet loglevel=3 ${RECORD_DIR:+uml_light=1} \
	virtio_uml.device="$W/rw.sock:2" virtio_uml.device="$W/vol.sock:2" \
	virtio_uml.device="$W/ro.sock:2" virtio_uml.device="$W/rng.sock:4" \
	virtio_uml.device="$W/con.sock:3" virtio_uml.device="$W/balloon.sock:5" \
	virtio_uml.device="$W/vsock.sock:19" \
	$( [ $net_check = net ] && echo virtio_uml.device="$W/net.sock:1" ) \
	uml_checks=block-rw,block-volatile,block-ro,rng,console,balloon,vsock,$net_check \
	uml_pattern="$PATTERN" uml_vsock_bytes="$VSOCK_BYTES" \
	< /dev/null > "$W/uml.log" 2>&1
uml_rc=$?
t1=$(date +%s.%N)
grep -E '^(CHECK|FIGURE) ' "$W/uml.log" | tr -d '\r'
guest_fails=$(grep -cE '^CHECK [^ ]+ FAIL' "$W/uml.log")
fails=$((fails + guest_fails))
if grep -q '^GUEST-DONE' "$W/uml.log"; then
	check uml-boot PASS "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f s boot+checks+poweroff", b-a}')"
else
	check uml-boot FAIL "guest did not finish (exit $uml_rc); its last lines:"
	tail -25 "$W/uml.log" | sed 's/^/    | /'
fi

# ---- after the guest: what the host must see ----
# The host-initiated vsock echo: the guest's echo server answered it.
wait "$pid_vcall" 2>/dev/null
v=$(grep -m1 '^ECHO' "$W/vsock-h.out")
case $v in
"ECHO OK "*) check vsock-h2g PASS "host connect to guest port 5000: ${v#ECHO OK }"
	echo "FIGURE vsock-echo-host-initiated $(echo "$v" | awk '{print $7}') MB/s ($(echo "$v" | awk '{print $3}') bytes each way)" ;;
*) check vsock-h2g FAIL "${v:-no answer}" ;;
esac
# Each vmm_device --once exits when its front end disconnects.
for n in $devs; do
	p=$(eval echo "\$pid_$n")
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$p" 2>/dev/null; then
		check "$n-device-exit" FAIL "still running after the guest left"
		kill "$p"
	fi
	wait "$p"
	rc=$?
	[ $rc -eq 0 ] || check "$n-device-exit" FAIL "exit status $rc"
	# A refused message means the device and Linux disagree on the protocol.
	if grep -qE 'warning|error' "$W/$n.log"; then
		check "$n-vhost-user" FAIL "complaints:"
		sed 's/^/    | /' "$W/$n.log" | head -10
	else
		check "$n-vhost-user" PASS "no refused messages"
	fi
done
pids=()
if dd if="$W/rw.img" bs=512 skip=2048 count=1 2>/dev/null | grep -q "$PATTERN"; then
	check block-rw-host PASS "pattern in the host image at sector 2048"
else
	check block-rw-host FAIL "pattern not in the host image"
fi
[ "$(sha256sum < "$W/vol.img")" = "$vol_sum" ] \
	&& check block-volatile-host PASS "host image unchanged" \
	|| check block-volatile-host FAIL "host image changed"
[ "$(sha256sum < "$W/ro.img")" = "$ro_sum" ] \
	&& check block-ro-host PASS "host image unchanged" \
	|| check block-ro-host FAIL "host image changed"
grep -q "$PATTERN-g2h" "$W/con.out" \
	&& check console-g2h PASS "guest's line on vmm_device's stdout" \
	|| check console-g2h FAIL "guest's line not on vmm_device's stdout"
grep -q 'console: [0-9]* bytes out' "$W/con.log" && \
	echo "FIGURE console $(grep -o 'console: [0-9]* bytes out.*' "$W/con.log" | sed 's/console: //')"
# One connection each way, and every byte each carried came back.
v=$(grep -o 'vsock: [0-9]* guest.*' "$W/vsock.log")
vin=$(echo "$v" | sed -n 's/.* \([0-9]*\) bytes from the guest, \([0-9]*\) to it.*/\1 \2/p')
case $v in
"vsock: 1 guest connections accepted, 1 host connections established"*)
	set -- $vin
	[ "${1:-0}" = "${2:-1}" ] && [ "$1" -ge $((2 * VSOCK_BYTES)) ] \
		&& check vsock-host PASS "${v#vsock: }" || check vsock-host FAIL "${v#vsock: }" ;;
*) check vsock-host FAIL "${v:-no vsock summary}" ;;
esac
b=$(grep -o 'balloon: [0-9]* pages inflated.*' "$W/balloon.log")
case $b in
# The driver deflates everything when it is removed at power-off, so
# "actual" is back to 0 by now; what matters is what was inflated and freed.
"balloon: 0 pages"*) check balloon-host FAIL "$b" ;;
"balloon: "*) pages=${b#balloon: }; pages=${pages%% *}
	bytes=$(echo "$b" | sed -n 's/.* \([0-9]*\) bytes returned.*/\1/p')
	# Every requested page came, and each was returned to the host.
	[ "$pages" = 4096 ] && [ "$bytes" = $((pages * 4096)) ] && check balloon-host PASS "$b" \
		|| check balloon-host FAIL "$b" ;;
*) check balloon-host FAIL "${b:-no balloon summary}" ;;
esac

echo "UML-SUMMARY: $fails failed"
[ $fails -eq 0 ]
