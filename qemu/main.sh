#!/usr/bin/env bash
# The README's main job (npm start): builds what is missing, boots the VM and
# runs the capture benchmark (kmodlab bench) there: a short default, a few
# minutes under TCG. Its table, JSON and plot land in out/bench/ on the host.
#   npm start                     the short default
#   npm start -- --full           the full sweep (rates, 64/512/1500-byte frames)
#   npm start -- OPTIONS          any `kmodlab bench` option (--help lists them)
set -euo pipefail
cd "$(dirname "$0")/.."
bash qemu/setup.sh
exec bash qemu/vm.sh --no-build -- node dist/cli/kmodlab.js bench "$@"
