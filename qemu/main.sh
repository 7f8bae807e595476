#!/usr/bin/env bash
# The README's main job (npm start): builds what is missing, boots the VM and
# runs the capture benchmark (kmodlab bench) there: a short default, a few
# minutes under TCG. Its table, JSON and plot land in out/bench/ on the host.
#   npm start                     the short default (pktgen source)
#   npm start -- --source host    host frames into the e1000 (boots with --traffic): fastnet-zc and the rest
#   npm start -- --source host --nic virtio   the same into virtio-net
#   npm start -- --full           the full sweep (rates, 64/512/1500-byte frames)
#   npm start -- OPTIONS          any `kmodlab bench` option (--help lists them)
set -euo pipefail
cd "$(dirname "$0")/.."
bash qemu/setup.sh
# The options first, on the host, by the bench's own parser: a bad one fails
# here with the message the guest would give, before the VM boots; --help
# needs no VM either.
for arg in "$@"; do
	case $arg in
	-h | --help) exec node dist/cli/kmodlab.js bench "$@" ;;
	esac
done
node dist/cli/kmodlab.js bench --check-only "$@"
# The host source needs framegen at the other end of the NIC (--traffic), and
# the NIC the bench's --nic names (checked above: only with --source host).
vm_args=()
prev=
for arg in "$@"; do
	case "$prev:$arg" in
	--source:host | -s:host | *:--source=host | *:-shost) vm_args+=(--traffic) ;;
	--nic:*) vm_args+=(--nic "$arg") ;;
	*:--nic=*) vm_args+=(--nic "${arg#--nic=}") ;;
	esac
	prev=$arg
done
exec bash qemu/vm.sh --no-build "${vm_args[@]}" -- node dist/cli/kmodlab.js bench "$@"
