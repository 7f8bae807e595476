#!/usr/bin/env bash
# The README's test command (npm test): installs and builds what is missing,
# runs the host unit tests, then boots the VM once and runs the in-guest jest
# suite against the real modules. Ends with a plain "N passed, N failed" line.
#   npm test                  everything
#   npm test -- --unit|--vm   one half
#   npm test -- ARGS          extra jest arguments (a path pattern, -t NAME)
set -uo pipefail
cd "$(dirname "$0")/.."

halves=(unit vm) jest_args=() results=()
for arg in "$@"; do
	case $arg in
	--unit) halves=(unit) ;;
	--vm) halves=(vm) ;;
	*) jest_args+=("$arg") ;;
	esac
done

bash qemu/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
mkdir -p out/test
rm -f out/test/*.json out/test/*.status

vm_rc=0
for half in "${halves[@]}"; do
	echo "[test] $half tests"
	if [ "$half" = unit ]; then
		node_modules/.bin/jest --selectProjects unit --json --outputFile=out/test/unit.json \
			"${jest_args[@]}"
	else
		# The zero-copy file boots on its own, with host traffic and QEMU's IOMMU;
		# arguments naming it run only that boot, other arguments only the first.
		boots=(vm vm-zerocopy)
		case "${jest_args[*]}" in
		"") ;;
		*zerocopy*) boots=(vm-zerocopy) ;;
		*) boots=(vm) ;;
		esac
		for boot in "${boots[@]}"; do
			results+=("$boot")
			# CI=true: the guest's serial port is a tty, but nobody watches jest's progress redraws.
			if [ "$boot" = vm ]; then
				bash qemu/vm.sh --no-build --env CI=true -- node_modules/.bin/jest --selectProjects vm \
					--runInBand --json --outputFile=out/test/vm.json "${jest_args[@]}" \
					--testPathIgnorePatterns fastnet-zerocopy
			else
				bash qemu/vm.sh --no-build --traffic --iommu --env CI=true -- node_modules/.bin/jest \
					--selectProjects vm --runInBand --json --outputFile=out/test/vm-zerocopy.json \
					"${jest_args[@]:-test/vm/fastnet-zerocopy}"
			fi
			rc=$?
			echo "$rc" >"out/test/$boot.status"
			[ $vm_rc -ne 0 ] || vm_rc=$rc
		done
		continue
	fi
	results+=("$half")
done
node qemu/test-summary.js "$vm_rc" "${results[@]}"
