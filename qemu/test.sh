#!/usr/bin/env bash
# The README's test command (npm test): installs and builds what is missing,
# runs the host unit tests, then boots the VM and runs the in-guest jest suite
# against the real modules on Debian's kernel, then again on the debug kernel
# (lockdep, KASAN, kmemleak; built once per machine). On each kernel the
# zero-copy files and host-traffic's boot on their own, with host traffic and
# QEMU's IOMMU.
# Ends with each part's time, the five slowest test files (every file's time
# in out/test/times.tsv) and a plain "N passed, N failed" line.
#   npm test                          host unit tests, the in-VM suite on Debian's kernel and on the debug kernel
#   npm test -- --unit|--vm|--debug   only those parts (repeatable): --vm is Debian's kernel, --debug the debug kernel
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

# The files that need host traffic (vm.sh --traffic): a jest path pattern.
traffic_files='fastnet-zerocopy|fastnet-zerocopy-bench|host-traffic'
# The files the debug kernel skips (a jest path pattern, this list alone decides): they exercise
# user space a second time (the CLIs, the README's snippets, pcap files, the benchmark's report,
# the harness) and reach the modules only through library calls that the files it runs test on
# both kernels. Every other file, whatever reaches a module or a driver, runs on both.
# test/unit/test-selection.test.ts fails if one of these touches /dev/fastnet, /dev/kshram*,
# /proc/memory_info or the library modules that open them.
debug_skip='bench|capture-file|doc-snippets|host-traffic'
# Arguments naming a traffic file run only the zero-copy boot; other arguments only the main one.
boots=(main zerocopy)
case "${jest_args[*]}" in
"") ;;
*zerocopy* | *host-traffic*) boots=(zerocopy) ;;
*) boots=(main) ;;
esac

# run_vm_suite RESULT BOOT KERNEL VM_OPTION...: one boot of the in-VM suite (KERNEL debian or
# debug, which skips $debug_skip unless files are named); results in out/test/RESULT.json.
run_vm_suite() {
	local result=$1 boot=$2 kernel=$3
	shift 3
	local skip=$traffic_files
	local skip_debug=
	[ "$kernel" = debian ] || [ ${#jest_args[@]} -gt 0 ] || skip_debug=$debug_skip
	[ -z "$skip_debug" ] || skip="$skip|$skip_debug"
	local files=("${jest_args[@]}" --testPathIgnorePatterns "test/vm/($skip)\\.")
	if [ "$boot" = zerocopy ]; then
		set -- "$@" --traffic --iommu
		files=("${jest_args[@]:-test/vm/($traffic_files)\\.}")
		[ -z "$skip_debug" ] || files+=(--testPathIgnorePatterns "test/vm/($skip_debug)\\.")
	fi
	# CI=true: the guest's serial port is a tty, but nobody watches jest's progress redraws.
	bash qemu/vm.sh "$@" --env CI=true -- node_modules/.bin/jest --selectProjects vm \
		--runInBand --json --outputFile="out/test/$result.json" "${files[@]}"
}

# boot_report_only LOG RESULT: true when the boot's tests all passed and the guest log's only
# reports come from the kernel's own boot, before the guest loaded any module of the project.
# The q35 debug boot intermittently shows one (a KASAN wild-memory-access in handle_edge_irq
# during start_kernel's identify_cpu, seen 1 boot in 4: kernel or emulator, not understood yet);
# such a boot is run once more, and that run's log must be clean like any other.
boot_report_only() {
	local log=$1 result=$2 boundary
	boundary=$(grep -anm1 -e 'loading out-of-tree module' -e 'vm: ready' "$log" | cut -d: -f1)
	[ -n "$boundary" ] || return 1
	node -e 'const r = require(process.argv[1]); process.exit(r.numFailedTests === 0 && r.numPassedTests > 0 ? 0 : 1)' \
		"$PWD/out/test/$result.json" 2>/dev/null || return 1
	bash qemu/check-guest-log.sh "$log" >/dev/null && return 1
	tail -n +"$boundary" "$log" >"$log.after-boot"
	bash qemu/check-guest-log.sh "$log.after-boot" >/dev/null
}

statuses=()
for part in "${parts[@]}"; do
	if [ "$part" = unit ]; then
		echo "[test] unit tests (host)"
		start=$(date +%s)
		node_modules/.bin/jest --selectProjects unit --json --outputFile=out/test/unit.json \
			"${jest_args[@]}"
		statuses+=("unit:$?:$(($(date +%s) - start))")
		continue
	fi
	for boot in "${boots[@]}"; do
		result=$part$([ "$boot" = main ] || echo "-$boot")
		start=$(date +%s)
		if [ "$part" = vm ]; then
			echo "[test] in-VM tests ($boot), Debian kernel"
			run_vm_suite "$result" "$boot" debian --no-build
			status=$?
		else
			echo "[test] in-VM tests ($boot), debug kernel (lockdep, KASAN, kmemleak)"
			# Builds the debug kernel on a machine's first run (tens of minutes, once).
			run_vm_suite "$result" "$boot" debug --kernel debug --timeout 3000
			status=$?
			if [ $status -ne 0 ] && boot_report_only out/vm/guest.log "$result"; then
				echo "[test] $result: the only kernel report came during boot, before the project's modules: booting once more"
				run_vm_suite "$result" "$boot" debug --kernel debug --timeout 3000
				status=$?
			fi
		fi
		seconds=$(($(date +%s) - start))
		echo "[test] $result: exit status $status, $seconds s"
		statuses+=("$result:$status:$seconds")
	done
done
node qemu/test-summary.js "${statuses[@]}"
