#!/usr/bin/env bash
# Installs the Debian packages the project needs, if any is missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

packages=(
	qemu-system-x86      # the VM
	linux-image-amd64    # the guest kernel (and its modules: e1000, veth, pktgen, 9p)
	linux-headers-amd64  # to build kmod/ against that kernel
	linux-source-6.1     # e1000 driver sources to patch; checkpatch.pl
	busybox-static       # the initramfs userland
	cpio                 # packs the initramfs
	kmod                 # insmod/modprobe in the guest
	iproute2             # veth pairs and namespaces in the guest
	ethtool              # the zero-copy tests reset the e1000 through each of its ethtool paths
	libpcap-dev          # the addon's libpcap capture method; filters compiled for every method
	libxdp-dev           # the af_xdp method (xsk sockets); libxdp1 brings xsk_def_xdp_prog.o
	libbpf-dev           # libxdp's companion, linked by the addon
	tcpdump tshark       # tests read written pcap files back with both; bench's tcpdump method
	gnuplot-nox          # the benchmark's plot (SVG, and PNG through its cairo terminal)
	linux-perf           # kmodlab bench --profile: where the guest's cycles go
	make g++ python3     # node-gyp and kbuild
	xz-utils             # unpacks linux-source
	flex bison bc libelf-dev libssl-dev  # build the debug guest kernel (qemu/debug-kernel.sh)
)

missing=()
for pkg in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages: ${missing[*]}" >&2
	echo "install-deps: run as root:  $cmd" >&2
	exit 1
fi
echo "[setup] installing ${missing[*]}"
if ! bash -c "$cmd" >/tmp/kmodlab-apt.log 2>&1; then
	tail -20 /tmp/kmodlab-apt.log >&2
	echo "install-deps: apt-get failed (full log: /tmp/kmodlab-apt.log); the command was:  $cmd" >&2
	exit 1
fi
