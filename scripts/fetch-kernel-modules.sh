#!/bin/bash
# Fetch the kernel modules the nested harness (tests/nested/) needs, from the
# same Debian package as $B/cache/vmlinuz (scripts/fetch-kernel.sh), into
# $B/cache/modules/ (flat: NAME.ko), with $B/cache/modules/VERSION naming the
# kernel they belong to. Idempotent: does nothing when they are there and
# match the vmlinuz. Exits 0 and writes $B/cache/modules.unavailable (the
# reason) when apt cannot download the package, like fetch-kernel.sh.
#
# The Debian generic kernel builds KVM, virtio (even virtio core and
# virtio-mmio), vsock and tun as modules; which of them each guest loads, and
# in which order, is the harness's business.
set -uo pipefail
B=${B:-build}
K=$B/cache/vmlinuz
dest=$B/cache/modules
marker=$B/cache/modules.unavailable
MODS=(
	virt/lib/irqbypass.ko drivers/crypto/ccp/ccp.ko
	arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko
	drivers/net/tun.ko
	drivers/virtio/virtio_ring.ko drivers/virtio/virtio.ko drivers/virtio/virtio_mmio.ko
	drivers/block/virtio_blk.ko drivers/char/hw_random/virtio-rng.ko
	drivers/char/virtio_console.ko drivers/virtio/virtio_balloon.ko
	net/core/failover.ko drivers/net/net_failover.ko drivers/net/virtio_net.ko
	net/vmw_vsock/vsock.ko net/vmw_vsock/vmw_vsock_virtio_transport_common.ko
	net/vmw_vsock/vmw_vsock_virtio_transport.ko
	drivers/vhost/vhost_iotlb.ko drivers/vhost/vhost.ko drivers/vhost/vhost_vsock.ko
)
unavailable() {
	echo "fetch-kernel-modules: $*"
	mkdir -p "$B/cache"
	echo "$*" >"$marker"
	exit 0
}
[ -s "$K" ] || unavailable "$K missing (scripts/fetch-kernel.sh fetches it)"
# The kernel's release string is in the bzImage's setup header, uncompressed.
ver=$(strings "$K" | grep -m1 -oE '^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-amd64' | head -n 1)
[ -n "$ver" ] || unavailable "cannot read the kernel release from $K"
if [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$ver" ]; then
	ok=1
	for m in "${MODS[@]}"; do [ -s "$dest/$(basename "$m")" ] || ok=; done
	if [ -n "$ok" ]; then rm -f "$marker"; exit 0; fi
fi
rm -f "$marker"
echo "fetch-kernel-modules: fetching the modules of $ver"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
got=
for pkg in "linux-image-$ver-unsigned" "linux-image-$ver"; do
	if (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1); then got=$pkg; break; fi
done
if [ -z "$got" ]; then
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq || true
	for pkg in "linux-image-$ver-unsigned" "linux-image-$ver"; do
		if (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1); then got=$pkg; break; fi
	done
fi
[ -n "$got" ] || unavailable "apt could not download linux-image-$ver(-unsigned) (no network?)"
deb=$(ls "$tmp"/*.deb | head -n 1)
mkdir -p "$tmp/x"
dpkg-deb -x "$deb" "$tmp/x" || unavailable "dpkg-deb -x $deb failed"
src=$tmp/x/lib/modules/$ver/kernel
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
for m in "${MODS[@]}"; do
	[ -f "$src/$m" ] || unavailable "$got holds no $m"
	cp "$src/$m" "$dest.tmp/"
done
echo "$ver" >"$dest.tmp/VERSION"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "fetch-kernel-modules: ${#MODS[@]} modules of $ver from $got -> $dest"
