#!/usr/bin/env bash
# checkpatch.sh [FILE...]: runs the kernel's scripts/checkpatch.pl (taken from
# Debian's linux-source tarball into out/linux-source by the Makefile) on the
# given files, or on every C file and header under kmod/.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s --no-print-directory out/linux-source/stamp
[ $# -gt 0 ] || set -- $(git ls-files --cached --others --exclude-standard 'kmod/*.[ch]')
exec perl out/linux-source/scripts/checkpatch.pl --no-tree --show-types --color=never -f "$@"
