#!/usr/bin/env bash
# mkinitramfs.sh KVER KMOD_DIR OUTPUT: packs the guest's initramfs: static
# busybox, the modules needed to mount the host's root over virtio-9p, the
# project's modules, and qemu/init.sh as /init.
set -euo pipefail
kver=$1 kmod_dir=$2 output=$3
here=$(dirname "$(readlink -f "$0")")
moddir=/lib/modules/$kver/kernel

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
for m in "${boot_modules[@]}"; do
	src=$moddir/$m
	[ -f "$src" ] || src=$(ls "$src".* 2>/dev/null | head -1)
	[ -f "$src" ] || { echo "mkinitramfs: $moddir/$m not found" >&2; exit 1; }
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
