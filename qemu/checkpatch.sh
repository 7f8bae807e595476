#!/usr/bin/env bash
# checkpatch.sh [FILE...]: runs the kernel's scripts/checkpatch.pl (taken from
# Debian's linux-source tarball into out/checkpatch, once) on the given files,
# or on every C file and header under kmod/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=out/checkpatch
if [ ! -f $tools/scripts/checkpatch.pl ]; then
	tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -1)
	[ -n "$tarball" ] || { echo "checkpatch: no /usr/src/linux-source-*.tar.xz (apt-get install linux-source-6.1)" >&2; exit 1; }
	top=$(basename "$tarball" .tar.xz)
	mkdir -p $tools
	tar -xJf "$tarball" -C $tools --strip-components=1 \
		"$top/scripts/checkpatch.pl" "$top/scripts/spelling.txt" "$top/scripts/const_structs.checkpatch"
fi
[ $# -gt 0 ] || set -- $(git ls-files --cached --others --exclude-standard 'kmod/*.[ch]')
exec perl $tools/scripts/checkpatch.pl --no-tree --show-types --color=never -f "$@"
