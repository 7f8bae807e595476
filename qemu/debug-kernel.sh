#!/usr/bin/env bash
# debug-kernel.sh: builds (once per machine) the debug guest kernel, with
# lockdep, KASAN, kmemleak and friends, from Debian's linux-source-6.1, the
# fragment qemu/debug-kernel.config and the fixes in qemu/debug-kernel-patches/
# (kernel bugs the debug checks report on their own, not the project's), and
# prints the folder that holds it:
#   DIR/src       the built tree (KDIR for out-of-tree modules)
#   DIR/bzImage   the kernel      DIR/kver   its `uname -r`
#   DIR/root/lib/modules/KVER    its modules (e1000, veth, pktgen, bridge, bonding, macvlan)
# The cache lives outside the clone, keyed by the source package's version and
# the hash of the fragment and the patches, so every clone on the machine shares one build:
# ${KMODLAB_CACHE:-~/.cache/kmodlab}/debug-kernel/<version>-<hash>.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
fragment=$here/debug-kernel.config
patches=("$here"/debug-kernel-patches/*.patch)
# None left (a fixed kernel): no patch step, and the hash is the fragment's.
[ -e "${patches[0]}" ] || patches=()
tarball=/usr/src/linux-source-6.1.tar.xz
# Bump when the recipe below changes in a way that changes the result.
recipe=2

[ -f "$tarball" ] || { echo "debug-kernel: $tarball is missing (Debian package linux-source-6.1)" >&2; exit 1; }
version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
hash=$( (cat "$fragment" "${patches[@]}"; echo "recipe $recipe") | sha256sum | cut -c1-12)
cache=${KMODLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kmodlab}
dir=$cache/debug-kernel/$version-$hash

if [ -f "$dir/done" ]; then
	echo "$dir"
	exit 0
fi
mkdir -p "$cache/debug-kernel"
# One build at a time per machine: a second caller waits for the first.
exec 9>"$cache/debug-kernel/.lock"
if ! flock -n 9; then
	echo "[debug-kernel] another build is running; waiting for it" >&2
	flock 9
fi
if [ -f "$dir/done" ]; then
	echo "$dir"
	exit 0
fi

start=$(date +%s)
echo "[debug-kernel] building linux-source $version with $(basename "$fragment") (once per machine; 14 to 23 min on 2 cores)" >&2
mkdir -p "$dir/src"
log=$dir/build.log
step() { echo "[debug-kernel] $1" >&2; echo "== $1" >>"$log"; }
run() { "$@" >>"$log" 2>&1 || { tail -30 "$log" >&2; echo "debug-kernel: failed: $* (log: $log)" >&2; exit 1; }; }

# An interrupted build resumes: make picks up where it stopped.
if [ ! -f "$dir/extracted" ]; then
	step "extracting $tarball"
	rm -rf "$dir/src" && mkdir -p "$dir/src"
	run tar -xJf "$tarball" -C "$dir/src" --strip-components=1
	for p in "${patches[@]}"; do
		step "applying $(basename "$p")"
		run patch -p1 -d "$dir/src" -i "$p"
	done
	touch "$dir/extracted"
fi
cd "$dir/src"
step "configuring: defconfig + kvm_guest.config + $(basename "$fragment")"
run make defconfig
run make kvm_guest.config
run scripts/kconfig/merge_config.sh -m .config "$fragment"
run make olddefconfig
# merge_config only warns when an option does not take: check every one asked for.
missing=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$fragment" | while read -r want; do
	grep -qxF "$want" .config || echo "$want"
done; grep -E '^# CONFIG_[A-Z0-9_]+ is not set' "$fragment" | while read -r _ opt _; do
	! grep -qE "^$opt=[ym]" .config || echo "# $opt is not set"
done)
[ -z "$missing" ] || { echo "debug-kernel: options the kernel did not take:" $missing >&2; exit 1; }

jobs=$(nproc)
step "make -j$jobs bzImage modules (log: $log)"
run make -j"$jobs" bzImage modules
run make modules_install INSTALL_MOD_PATH="$dir/root" INSTALL_MOD_STRIP=1
cp arch/x86/boot/bzImage "$dir/bzImage"
make -s kernelrelease >"$dir/kver"
echo $(($(date +%s) - start)) >"$dir/build-seconds"
touch "$dir/done"
echo "[debug-kernel] built $(cat "$dir/kver") in $(cat "$dir/build-seconds") s: $dir" >&2
echo "$dir"
