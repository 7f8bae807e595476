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
#   npm test -- --unit|--vm|--virtio|--debug   only those parts (repeatable): --vm is Debian's kernel, --virtio its
#                                     boot with a virtio-net NIC, --debug the debug kernel
#   npm test -- ARGS                  extra jest arguments (a path pattern, -t NAME)
set -uo pipefail
cd "$(dirname "$0")/.."

parts=() jest_args=()
for arg in "$@"; do
	case $arg in
	--unit) parts+=(unit) ;;
	--vm) parts+=(vm) ;;
	--virtio) parts+=(virtio) ;;
	--debug) parts+=(debug) ;;
	*) jest_args+=("$arg") ;;
	esac
done
[ ${#parts[@]} -gt 0 ] || parts=(unit vm virtio debug)

# The debug kernel's image and modules are built here too, in the same make as the rest, before
# any lane boots it (two boots building them at once would race); a machine's first run builds
# the kernel itself here (tens of minutes).
targets=()
[[ " ${parts[*]} " != *" debug "* ]] || targets+=(debug)
bash qemu/setup.sh "${targets[@]}" || { echo "0 passed, 1 failed"; exit 1; }
mkdir -p out/test
rm -f out/test/*.json

# The files the debug kernel skips (a jest path pattern, this list alone decides): they exercise
# user space a second time (the CLIs, the README's snippets, pcap files, the benchmark's report,
# the harness) and reach the modules only through library calls that the files it runs test on
# both kernels. Every other file, whatever reaches a module or a driver, runs on both.
# test/unit/test-selection.test.ts fails if one of these touches /dev/fastnet, /dev/kshram*,
# /proc/memory_info or the library modules that open them.
debug_skip='bench|capture-file|doc-snippets|host-traffic'
# With two lanes, the debug kernel's files take two boots, one in each lane: these run in the
# second one (debug-b), after Debian's part in the lane that had the unit tests and Debian's
# kernel (which end about 9 minutes before the debug kernel's files would alone). memory_info:
# its file is the longest that needs no second CPU (kshram's contention test took 146 s on the
# 1-vCPU boot against 68 on two); errors: 5 s of tests, 15 s of loading them on the debug kernel.
# fastnet's files stay on the 2-vCPU boot.
debug_second='memory-info|errors'
# The files that run a second time with a virtio-net NIC in place of the e1000 (vm.sh --nic virtio)
# and the project's virtio_net: those that take host frames on any NIC with zero-copy. On Debian's
# kernel in a boot of their own; on the debug kernel, the switches' file in its second boot (whose
# other files need no NIC) and only there: fastnet-zerocopy's 4 minutes there would take the run
# past 20, and the e1000's leave under traffic runs in the first boot's fastnet-zerocopy cycles.
virtio_files='mode-switch|fastnet-zerocopy'
virtio_debug_files='mode-switch'

# run_vm_suite RESULT KERNEL [VM_OPTION...]: one boot of the in-VM suite on KERNEL (debian or debug, which skips
# $debug_skip unless files are named), results in out/test/RESULT.json. Every file runs in that one
# boot, with host traffic and QEMU's IOMMU (what the zero-copy files need): a second boot would
# cost its fixed part again (about 60 s on the debug kernel: boot, kmemleak's scans, jest's start).
run_vm_suite() {
	local result=$1 kernel=$2 vm_args=("${@:3}") files=("${jest_args[@]}")
	if [ "$kernel" = virtio ]; then
		vm_args+=(--nic virtio)
		# Named files may all be e1000's: nothing to run here is then no failure.
		if [ ${#jest_args[@]} -gt 0 ]; then
			files+=(--passWithNoTests --testPathIgnorePatterns "test/vm/(?!($virtio_files)\\.)")
		else
			files=("test/vm/($virtio_files)\\.")
		fi
	elif [ "$kernel" != debian ]; then
		vm_args+=(--kernel debug --timeout 3000)
		if [ ${#jest_args[@]} -gt 0 ]; then
			:
		elif [ "$kernel" = debug-b ]; then
			# Its other files need no e1000: the NIC is virtio-net, for the debug kernel's virtio file.
			vm_args+=(--nic virtio)
			files=("test/vm/($debug_second|$virtio_debug_files)\\.")
		elif [ "$split_debug" = 1 ]; then
			files=(--testPathIgnorePatterns "test/vm/($debug_skip|$debug_second|$virtio_debug_files)\\.")
		else
			files=(--testPathIgnorePatterns "test/vm/($debug_skip)\\.")
		fi
	fi
	# CI=true: the guest's serial port is a tty, but nobody watches jest's progress redraws.
	bash qemu/vm.sh --no-build --traffic --iommu "${vm_args[@]}" --env CI=true -- node_modules/.bin/jest \
		--selectProjects vm --runInBand --json --outputFile="out/test/$result.json" "${files[@]}"
}

# run_job JOB: one part of the run (unit, vm, debug); its "JOB:STATUS:SECONDS" goes to
# out/test/statuses for the summary.
run_job() {
	local job=$1 status start
	start=$(date +%s)
	case $job in
	unit)
		echo "[test] unit tests (host)"
		# Arguments that name only in-VM files leave the host part nothing to run: not a failure.
		# A worker per CPU (jest's default leaves one CPU out): the slow files wait on guests and
		# compilers they start (63 s against 96 s on 2 CPUs).
		node_modules/.bin/jest --selectProjects unit --maxWorkers="$(nproc)" --json --outputFile=out/test/unit.json \
			${jest_args[0]+--passWithNoTests} "${jest_args[@]}"
		status=$?
		;;
	vm)
		echo "[test] in-VM tests, Debian kernel"
		run_vm_suite vm debian --smp "$debian_smp"
		status=$?
		;;
	virtio)
		echo "[test] in-VM tests, Debian kernel, virtio-net NIC: $virtio_files"
		run_vm_suite virtio virtio --smp "$debian_smp"
		status=$?
		;;
	debug)
		echo "[test] in-VM tests, debug kernel (lockdep, KASAN, kmemleak)"
		run_vm_suite debug debug
		status=$?
		;;
	debug-b)
		echo "[test] in-VM tests, debug kernel, second boot (virtio-net NIC): $debug_second|$virtio_debug_files"
		run_vm_suite debug-b debug-b --smp "$debian_smp"
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

# The jobs asked for run in two lanes side by side: the debug kernel in one, the unit tests and
# Debian's kernel in the other. A TCG guest keeps one host thread busy per vCPU that has work, and
# on a 2-CPU host two guests of 2 vCPUs slow each other far more than they gain (a vCPU thread
# descheduled stalls the guest's other one): there Debian's guest gets 1 vCPU beside the debug
# guest's 2. Measured (docs/harness.md): two 1-vCPU guests at once each as fast as one alone; the
# debug guest's memory-info 177 s beside a 1-vCPU guest against 132 s alone, which the ~9
# minutes of debug run left alone after Debian's part more than make up. The debug kernel keeps
# 2 vCPUs: it is the run whose checkers (lockdep, KASAN) find races, and races need two CPUs.
# KMODLAB_TEST_JOBS=1 runs the jobs one after the other, every guest with 2 vCPUs.
jobs=("${parts[@]}")
lane_a=() lane_b=() debian_smp=2 split_debug=0
for job in "${jobs[@]}"; do
	case $job in debug) lane_a+=("$job") ;; *) lane_b+=("$job") ;; esac
done
if [ "${KMODLAB_TEST_JOBS:-2}" = 1 ] || [ ${#lane_a[@]} -eq 0 ] || [ ${#lane_b[@]} -eq 0 ]; then
	lane_a=("${jobs[@]}") lane_b=()
else
	[ "$(nproc)" -ge 4 ] || debian_smp=1
	# The whole suite (no files named): the debug kernel's second boot goes to the other lane,
	# and the virtio-net boot (Debian's kernel, 1 vCPU) comes to this one, after the debug
	# kernel's first: with it, the other lane was the longer (1,336 s against 1,164 in CI's run
	# of 2026-12-05; unit 104, vm 714, virtio 107, debug-b 411 s).
	if [ ${#jest_args[@]} -eq 0 ] && [[ " ${lane_b[*]} " == *" vm "* ]]; then
		split_debug=1
		lane_b+=(debug-b)
		jobs+=(debug-b)
		rest=()
		for job in "${lane_b[@]}"; do
			if [ "$job" = virtio ]; then lane_a+=("$job"); else rest+=("$job"); fi
		done
		lane_b=("${rest[@]}")
	fi
fi

: >out/test/statuses
if [ ${#lane_b[@]} -eq 0 ]; then
	run_lane 0 "${lane_a[@]}"
else
	echo "[test] two lanes side by side: ${lane_a[*]} | ${lane_b[*]}"
	# Job control: each lane in its own process group, where SIGINT is not ignored (a background
	# job's is), so the signal that reaches this script is passed on to vm.sh, which stops its guest.
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
