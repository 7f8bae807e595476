#!/usr/bin/env bash
# The README's test command (npm test): installs and builds what is missing,
# runs the host unit tests and the in-guest jest suite against the real
# modules, on Debian's kernel and on the debug kernel (lockdep, KASAN,
# kmemleak; built once per machine). On each kernel the zero-copy files and
# host-traffic's boot on their own, with host traffic and QEMU's IOMMU. The
# parts run in two lanes side by side (see run_lane below).
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
	bash qemu/vm.sh --no-build "$@" --env CI=true -- node_modules/.bin/jest --selectProjects vm \
		--runInBand --json --outputFile="out/test/$result.json" "${files[@]}"
}

# run_job JOB: one part of the run (unit, vm, vm-zerocopy, debug, debug-zerocopy); its
# "JOB:STATUS:SECONDS" goes to out/test/statuses for the summary.
run_job() {
	local job=$1 status start
	start=$(date +%s)
	case $job in
	unit)
		echo "[test] unit tests (host)"
		# Arguments that name only in-VM files leave the host part nothing to run: not a failure.
		node_modules/.bin/jest --selectProjects unit --json --outputFile=out/test/unit.json \
			${jest_args[0]+--passWithNoTests} "${jest_args[@]}"
		status=$?
		;;
	vm | vm-zerocopy)
		echo "[test] in-VM tests ($([ $job = vm ] && echo main || echo zerocopy)), Debian kernel"
		run_vm_suite "$job" "$([ $job = vm ] && echo main || echo zerocopy)" debian
		status=$?
		;;
	debug | debug-zerocopy)
		echo "[test] in-VM tests ($([ $job = debug ] && echo main || echo zerocopy)), debug kernel (lockdep, KASAN, kmemleak)"
		run_vm_suite "$job" "$([ $job = debug ] && echo main || echo zerocopy)" debug --kernel debug --timeout 3000
		status=$?
		;;
	esac
	echo "[test] $job: exit status $status, $(($(date +%s) - start)) s"
	echo "$job:$status:$(($(date +%s) - start))" >>out/test/statuses
}

# run_lane PREFIX JOB...: the jobs one after the other, each output line prefixed with the job's
# name when PREFIX is 1 (two lanes print at once). A lane runs in a process group of its own:
# Ctrl-C reaches it through this script, which passes it on to every process of the group.
# The lane itself outlives the signal (the trap) and starts no further job; the prefixing sed
# ignores it, so that the job's last words (vm.sh stopping its guest) still get through; the job
# gets it as from a terminal (a trapped signal is reset to the default in a child).
run_lane() {
	local prefix=$1 job
	shift
	trap 'stopped=1' INT TERM
	stopped=0
	for job in "$@"; do
		[ $stopped = 0 ] || break
		if [ "$prefix" = 1 ]; then
			run_job "$job" 2>&1 | (trap '' INT TERM; exec sed -u "s/^/[$job] /")
		else
			run_job "$job"
		fi
	done
}

# The jobs asked for, in two lanes that run side by side: each guest keeps about one of the
# host's cores busy (jest runs in band), so two at once use a 2-core host fully. The lanes
# are balanced on the measured times (docs/harness.md): the unit tests and the debug kernel's
# main boot in one; Debian's two boots and the debug kernel's zero-copy boot in the other.
# KMODLAB_TEST_JOBS=1, or a 1-CPU host, runs everything in one lane.
jobs=()
for part in "${parts[@]}"; do
	case $part in
	unit) jobs+=(unit) ;;
	*) for boot in "${boots[@]}"; do jobs+=("$part$([ "$boot" = main ] || echo "-$boot")"); done ;;
	esac
done
lane_a=() lane_b=()
for job in "${jobs[@]}"; do
	case $job in unit | debug) lane_a+=("$job") ;; *) lane_b+=("$job") ;; esac
done
if [ "${KMODLAB_TEST_JOBS:-2}" = 1 ] || [ "$(nproc)" -lt 2 ] || [ ${#lane_a[@]} -eq 0 ] || [ ${#lane_b[@]} -eq 0 ]; then
	lane_a=("${jobs[@]}") lane_b=()
fi

# The debug kernel's image and modules, once, before any lane boots it (two boots building them
# at once would race); a machine's first run builds the kernel itself here (tens of minutes).
if [[ " ${jobs[*]} " == *" debug"* ]]; then
	make -s --no-print-directory debug || { echo "0 passed, 1 failed"; exit 1; }
fi

: >out/test/statuses
if [ ${#lane_b[@]} -eq 0 ]; then
	run_lane 0 "${lane_a[@]}"
else
	echo "[test] two lanes side by side: ${lane_a[*]} | ${lane_b[*]}"
	# Job control: each lane in its own process group, where SIGINT is not ignored (a background
	# job's is), so the signal that reaches this script is passed on to vm.sh, which stops its guest.
	# One host thread per guest (TCG's thread=single: the guest keeps its 2 vCPUs, run in turn):
	# with a thread per vCPU, 4 threads on 2 cores, a guest whose vCPU thread is descheduled
	# stalls its other vCPU (TCG's stop-the-world sections, the guest's IPIs and spinlocks),
	# and two guests at once took as long as one after the other.
	export VM_TCG_THREAD=${VM_TCG_THREAD:-single}
	set -m
	run_lane 1 "${lane_a[@]}" &
	lane_pids=($!)
	run_lane 1 "${lane_b[@]}" &
	lane_pids+=($!)
	set +m
	trap 'kill -INT -- -${lane_pids[0]} -${lane_pids[1]} 2>/dev/null' INT
	trap 'kill -TERM -- -${lane_pids[0]} -${lane_pids[1]} 2>/dev/null' TERM
	# A trapped signal ends wait early: wait again until both lanes are done.
	while [ -n "$(jobs -pr)" ]; do wait; done
fi
statuses=()
for job in "${jobs[@]}"; do
	line=$(grep -m1 "^$job:" out/test/statuses) || line="$job:1:?"
	statuses+=("$line")
done
node qemu/test-summary.js "${statuses[@]}"
