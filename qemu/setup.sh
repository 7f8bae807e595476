#!/usr/bin/env bash
# Installs what is missing (Debian packages, npm packages) and builds what
# changed (addon, TypeScript, kernel modules, test helpers, initramfs).
# Idempotent; a few seconds when everything is built.
set -euo pipefail
cd "$(dirname "$0")/.."
bash qemu/install-deps.sh
make -s --no-print-directory all
