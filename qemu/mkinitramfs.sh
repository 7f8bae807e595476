#!/usr/bin/env bash
# mkinitramfs.sh KVER KMOD_DIR OUTPUT [MODULES_ROOT]: packs the guest's
# initramfs: static busybox, the modules needed to mount the host's root over
# virtio-9p (those the kernel does not have built in), the project's modules,
# and qemu/init.sh as /init. MODULES_ROOT (default /) holds lib/modules/KVER.
set -euo pipefail
kver=$1 kmod_dir=$2 output=$3 modroot=${4:-/}
here=$(dirname "$(readlink -f "$0")")
moddir=$modroot/lib/modules/$kver/kernel

# In load order: each needs the ones before it.
boot_modules=(
	drivers/virtio/virtio_ring.ko
	drivers/virtio/virtio.ko
	drivers/virtio/virtio_pci_legacy_dev.ko
	drivers/virtio/virtio_pci_modern_dev.ko
	drivers/virtio/virtio_pci.ko
	net/9p/9pnet.ko
	net/9p/9pnet_virtio.ko
	fs/netfs/netfs.ko
	fs/fscache/fscache.ko
	fs/9p/9p.ko
)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,newroot,modules,kmod}
cp /bin/busybox "$stage/bin/busybox"
cp "$here/init.sh" "$stage/init"
chmod 755 "$stage/init"
: >"$stage/modules/order"
for m in "${boot_modules[@]}"; do
	# The debug kernel has the virtio and 9p drivers built in.
	! grep -qxF "kernel/$m" "$moddir/../modules.builtin" 2>/dev/null || continue
	src=$moddir/$m
	[ -f "$src" ] || src=$(ls "$src".* 2>/dev/null | head -1 || true)
	if [ ! -f "$src" ]; then
		# A kernel built without it (the debug kernel has no fscache) does not need it;
		# one that does need it fails loudly at boot, when the next module will not load.
		[ "$modroot" = / ] || continue
		echo "mkinitramfs: $moddir/$m not found" >&2
		exit 1
	fi
	case $src in
	*.xz) xz -dc "$src" >"$stage/modules/$(basename "$m")" ;;
	*.zst) zstd -qdc "$src" >"$stage/modules/$(basename "$m")" ;;
	*) cp "$src" "$stage/modules/" ;;
	esac
	basename "$m" .ko >>"$stage/modules/order"
done
cp "$kmod_dir"/*.ko "$stage/kmod/" 2>/dev/null || true

mkdir -p "$(dirname "$output")"
(cd "$stage" && find . | LC_ALL=C sort | cpio --quiet -o -H newc --owner=0:0) | gzip -1 >"$output.tmp"
mv "$output.tmp" "$output"
