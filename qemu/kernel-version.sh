#!/usr/bin/env bash
# Prints the version of the guest kernel: the newest one installed with both
# an image in /boot and its headers. Never hard-coded.
set -euo pipefail
for image in $(ls /boot/vmlinuz-* 2>/dev/null | sort -rV); do
	kver=${image#/boot/vmlinuz-}
	if [ -f "/lib/modules/$kver/build/Makefile" ]; then
		echo "$kver"
		exit 0
	fi
done
echo "kernel-version: no kernel with headers installed (need linux-image-amd64 and linux-headers-amd64)" >&2
exit 1
