#!/usr/bin/env bash
# The README's test command (npm test): installs and builds what is missing,
# runs the host unit tests, then boots the VM and runs the in-guest jest suite
# against the real modules, first on Debian's kernel, then on the debug kernel
# (lockdep, KASAN, kmemleak; built once per machine). Ends with a plain
# "N passed, N failed" line.
#   npm test                          everything
#   npm test -- --unit|--vm|--debug   one part (repeatable)
#   npm test -- ARGS                  extra jest arguments (a path pattern, -t NAME)
set -uo pipefail
cd "$(dirname "$0")/.."

parts=() jest_args=()
for arg in "$@"; do
	case $arg in
	--unit) parts+=(unit) ;;
	--vm) parts+=(vm) ;;
	--debug) parts+=(debug) ;;
	*) jest_args+=("$arg") ;;
	esac
done
[ ${#parts[@]} -gt 0 ] || parts=(unit vm debug)

bash qemu/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
mkdir -p out/test
rm -f out/test/*.json

# Runs the in-VM suite on one kernel; its results go to out/test/PART.json.
run_vm_suite() {
	local part=$1
	shift
	# CI=true: the guest's serial port is a tty, but nobody watches jest's progress redraws.
	bash qemu/vm.sh "$@" --env CI=true -- node_modules/.bin/jest --selectProjects vm \
		--runInBand --json --outputFile="out/test/$part.json" "${jest_args[@]}"
}

statuses=()
for part in "${parts[@]}"; do
	start=$(date +%s)
	case $part in
	unit)
		echo "[test] unit tests (host)"
		node_modules/.bin/jest --selectProjects unit --json --outputFile=out/test/unit.json \
			"${jest_args[@]}"
		;;
	vm)
		echo "[test] in-VM tests, Debian kernel"
		run_vm_suite vm --no-build
		;;
	debug)
		echo "[test] in-VM tests, debug kernel (lockdep, KASAN, kmemleak)"
		# Builds the debug kernel on a machine's first run (tens of minutes, once).
		run_vm_suite debug --kernel debug --timeout 3000
		;;
	esac
	status=$?
	echo "[test] $part: exit status $status, $(($(date +%s) - start)) s"
	statuses+=("$part:$status")
done
node qemu/test-summary.js "${statuses[@]}"
