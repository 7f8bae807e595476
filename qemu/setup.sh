#!/usr/bin/env bash
# setup.sh [TARGET...]: installs what is missing (Debian packages, npm
# packages) and builds what changed (addon, TypeScript, kernel modules, test
# helpers, initramfs), and the Makefile's TARGETs too (npm test adds `debug`).
# Idempotent; a few seconds when everything is built. One make for all, a job
# per CPU: npm's install, the addon's compiler and kbuild overlap (a clean
# clone's build took 110 s one step after the other).
set -euo pipefail
cd "$(dirname "$0")/.."
bash qemu/install-deps.sh
make -s --no-print-directory -j"$(nproc)" all "$@"
