#!/usr/bin/env bash
# The README's main command (npm start): builds what is missing, boots the VM
# and shows the modules at work.
set -euo pipefail
cd "$(dirname "$0")/.."
bash qemu/setup.sh
exec bash qemu/vm.sh --no-build -- bash -c 'set -e; for demo in dist/examples/*-demo.js; do echo "== $demo"; node "$demo"; done'
