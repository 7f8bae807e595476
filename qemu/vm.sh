#!/usr/bin/env bash
# vm.sh [options] [--] COMMAND [ARG...]: runs COMMAND inside a QEMU guest
# (the host's root shared read-only, the project's modules loaded) at the
# project's root, streams its output, and exits with its status. The run
# fails if the guest log shows an oops, BUG, WARNING, panic or a module that
# would not load or unload, or if the guest hangs past the timeout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
usage() {
	cat <<'USAGE'
usage: npm run vm -- [options] [--] COMMAND [ARG...]
       npm run vm:shell
Runs COMMAND in the guest, in the project's folder, as root; exits with its status.
  --shell           an interactive shell in the guest instead of a command
  --no-modules      do not load the project's kernel modules at boot
  --no-build        skip the build step (qemu/setup.sh)
  --e1000           give the guest an e1000 NIC (on an isolated user-mode network)
  --netdev SPEC     QEMU -netdev for the NIC, e.g. socket,id=net0,udp=127.0.0.1:7001,localaddr=127.0.0.1:7000
  --traffic         a NIC whose other end is out/bin/framegen on the host (loopback UDP): the
                    guest asks it for frames through $KMODLAB_TRAFFIC (lib/host-traffic.ts) and
                    pings 192.168.77.1 through it
  --nic MODEL       the guest NIC's model: e1000 (default) or virtio (virtio-net-pci); eth0 either way
  --iommu           q35 with QEMU's emulated Intel IOMMU, guest intel_iommu=on: stray DMA faults
                    (a virtio NIC goes through it too: iommu_platform=on)
  --smp N           guest vCPUs (default 2)
  --mem MB          guest memory (default 2048)
  --timeout SEC     kill a guest that runs longer (default 1500)
  --kernel NAME     debian (default: Debian's kernel) or debug (lockdep, KASAN,
                    kmemleak: built once per machine by qemu/debug-kernel.sh)
  --env NAME=VALUE  set a variable for COMMAND (repeatable)
An option's value may also follow an equals sign: --mem=1024.
Ctrl-C or SIGTERM: the signal goes to COMMAND in the guest (SIGKILL 5 s later), the guest
powers off and vm.sh exits 130 or 143; a second one powers the guest off at once.
Environment: VM_ACCEL=kvm|tcg overrides the KVM probe; VM_KERNEL_ARGS adds to the guest's
kernel command line.
Logs: out/vm/guest.log (kernel console of the last run).
USAGE
}

# Bad options stop here with one line and exit status 2, before anything is built or booted.
bad_usage() {
	echo "vm: $*" >&2
	echo "(npm run vm -- --help lists the options)" >&2
	exit 2
}
# check_number OPTION VALUE MIN MAX
check_number() {
	[[ $2 =~ ^[0-9]+$ ]] && ((10#$2 >= $3 && 10#$2 <= $4)) ||
		bad_usage "$1 takes a whole number from $3 to $4, got '$2'"
}

shell=0 modules=1 build=1 smp=2 mem=2048 timeout=1500 nic=() guest_env=() kernel_name=debian traffic=0 iommu=0
nic_model=e1000
# The options that take a value (a new one goes here and in the case below).
valued=" --netdev --nic --smp --mem --timeout --env --kernel "
while [ $# -gt 0 ]; do
	opt=$1 val=
	# A value comes as the next word or as --option=value.
	case $opt in --*=*) val=${opt#*=} opt=${opt%%=*} ;; esac
	if [[ $valued == *" $opt "* ]]; then
		if [ "$opt" = "$1" ]; then
			[ $# -ge 2 ] || bad_usage "$opt needs a value"
			val=$2
			shift
		fi
		[ -n "$val" ] || bad_usage "$opt needs a value"
	elif [ "$opt" != "$1" ]; then
		bad_usage "$opt takes no value"
	fi
	case $opt in
	--shell) shell=1 ;;
	--no-modules) modules=0 ;;
	--no-build) build=0 ;;
	--e1000) [ ${#nic[@]} -gt 0 ] || nic=(-netdev user,id=net0,restrict=on) ;;
	--netdev) nic=(-netdev "$val") ;;
	--traffic) traffic=1 ;;
	--nic)
		[[ $val == e1000 || $val == virtio ]] || bad_usage "--nic takes e1000 or virtio, got '$val'"
		nic_model=$val ;;
	--iommu) iommu=1 ;;
	--smp) check_number "$opt" "$val" 1 64; smp=$((10#$val)) ;;
	--mem) check_number "$opt" "$val" 128 65536; mem=$((10#$val)) ;;
	--timeout) check_number "$opt" "$val" 1 86400; timeout=$((10#$val)) ;;
	--env)
		[[ $val =~ ^[A-Za-z_][A-Za-z0-9_]*=.*$ ]] || bad_usage "--env takes NAME=VALUE, got '$val'"
		guest_env+=("$val") ;;
	--kernel)
		[[ $val == debian || $val == debug ]] || bad_usage "--kernel takes debian or debug, got '$val'"
		kernel_name=$val ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) bad_usage "unknown option $opt" ;;
	*) break ;;
	esac
	shift
done
[ $shell = 1 ] || [ $# -gt 0 ] || bad_usage "no command given: npm run vm -- COMMAND [ARG...], or --shell"
case $root in *[[:space:],]*) echo "vm: the project path must not contain spaces or commas: $root" >&2; exit 2 ;; esac
for e in "${guest_env[@]}"; do
	case $e in *[[:space:],]*) echo "vm: --env values must not contain spaces or commas: $e" >&2; exit 2 ;; esac
done

cd "$root"
[ $build = 0 ] || bash qemu/setup.sh
kver=$(qemu/kernel-version.sh)
kernel=/boot/vmlinuz-$kver
initrd=out/initramfs.cpio.gz
guest_kernel=$kernel initrd_guest=$initrd modroot_arg=
case $kernel_name in
debian) ;;
debug)
	# The image and modules against it; the kernel itself is cached per machine.
	if [ $build = 1 ]; then
		make -s --no-print-directory debug
	elif [ ! -f out/debug/initramfs.cpio.gz ]; then
		echo "vm: the debug image is not built: run without --no-build (or make debug)" >&2
		exit 2
	fi
	debug_dir=$(bash qemu/debug-kernel.sh)
	guest_kernel=$debug_dir/bzImage initrd_guest=out/debug/initramfs.cpio.gz
	kver=$(cat "$debug_dir/kver") modroot_arg=" vm.modroot=$debug_dir/root"
	;;
esac
mkdir -p out/vm

# KVM where it works, TCG otherwise. The probe boots the guest with KVM and
# waits a few seconds for init to answer; the verdict is kept in out/vm/accel.
probe_accel() {
	if [ ! -w /dev/kvm ]; then echo tcg; return; fi
	local log
	log=$(mktemp)
	# In a subshell with stderr closed: a guest that hangs is killed, and the
	# shell's own "Aborted"/"Killed" report of that is expected, not news.
	(timeout -k 2 10 qemu-system-x86_64 -accel kvm -cpu host -m 256 -nodefaults -no-reboot \
		-display none -serial "file:$log" -kernel "$kernel" -initrd out/initramfs.cpio.gz \
		-append "console=ttyS0 panic=-1 vm.probe=1" >/dev/null 2>&1 || true) 2>/dev/null
	if grep -q 'vm: probe ok' "$log"; then echo kvm; else echo tcg; fi
	rm -f "$log"
}
accel=${VM_ACCEL:-}
if [ -z "$accel" ]; then
	if [ ! -s out/vm/accel ]; then
		echo "[vm] probing KVM (up to 10 s, once)" >&2
		probe_accel >out/vm/accel
		[ "$(cat out/vm/accel)" = kvm ] ||
			echo "[vm] KVM did not boot a guest here: using TCG (kept in out/vm/accel; delete it to probe again)" >&2
	fi
	accel=$(cat out/vm/accel)
fi
case $accel in
kvm) accel_args=(-accel kvm -cpu host) ;;
tcg) accel_args=(-accel tcg,thread=multi -cpu max) ;;
*) echo "vm: VM_ACCEL must be kvm or tcg, not '$accel'" >&2; exit 2 ;;
esac
# Benchmarks record what the guest ran under.
guest_env+=("KMODLAB_ACCEL=$accel")
# The command writes to a serial port, a tty in the guest (TERM=linux), so
# Node, jest and the libraries they use would colour for it. What counts is
# where the output goes on the host: a pipe or a file gets plain text
# (NO_COLOR for picocolors, which CI=true turns on; an --env of the same name wins).
if [ $shell = 0 ] && [ ! -t 1 ]; then
	guest_env=(NO_COLOR=1 FORCE_COLOR=0 TERM=dumb "${guest_env[@]}")
fi

run=vm/run-$$
rundir=out/$run
# Failed runs keep their folder for a look; a day later it goes.
find out/vm -maxdepth 1 -name "run-*" -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
rm -rf "$rundir" && mkdir -p "$rundir"

# Whatever ends the run (done, failed, Ctrl-C, SIGTERM), nothing of it stays
# behind: framegen, the output's tail, QEMU, and the run's folder unless a
# failure keeps it for a look.
framegen_pid= qemu_pid= tail_pid= keep_run=0 stop_signal= stop_deadline=
cleanup() {
	local pid
	for pid in $framegen_pid $tail_pid; do kill "$pid" 2>/dev/null || true; done
	# Only if vm.sh itself dies early: timeout passes the TERM to QEMU, and a KILL 10 s later.
	[ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true
	[ $keep_run = 1 ] || rm -rf "$rundir"
}
trap cleanup EXIT

# Ctrl-C and SIGTERM. QEMU runs under timeout, which puts it in a process
# group of its own (and a background job of this shell ignores SIGINT
# anyway), so the terminal's signal reaches only this script. It passes the
# signal to the guest as a line, INT or TERM, on the guest's third serial port
# (a FIFO pair here: ctl.in); the guest's init sends that signal to the
# command's process group, SIGKILL 5 s later, then unloads the modules and
# powers off as after any command. QEMU still running stop_wait seconds after
# the request (a hung guest), or a second signal, powers it off at once.
stop_wait=$([ $kernel_name = debian ] && echo 30 || echo 120)
on_signal() {
	if [ -z "$qemu_pid" ] || ! kill -0 "$qemu_pid" 2>/dev/null; then
		stop_signal=$1
		exit $((128 + $(kill -l "$1")))
	fi
	if [ -n "$stop_signal" ]; then
		echo "[vm] SIG$1 again: powering the guest off" >&2
		kill "$qemu_pid" 2>/dev/null || true
		return
	fi
	stop_signal=$1 stop_deadline=$((SECONDS + stop_wait))
	if grep -q 'vm: command started' "$rundir/guest.log" 2>/dev/null; then
		echo "[vm] SIG$1: passing it to the guest command (SIGKILL after 5 s), then the guest powers off (up to ${stop_wait} s; again to power off now)" >&2
		# Read-write: opening a FIFO so never blocks, even if QEMU has just gone.
		exec 4<>"$rundir/ctl.in"
		echo "$1" >&4
		exec 4>&-
	else
		echo "[vm] SIG$1 before the guest command started: powering the guest off" >&2
		kill "$qemu_pid" 2>/dev/null || true
	fi
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM

printf 'cd %q\nexec' "$root" >"$rundir/cmd.sh"
printf ' %q' "$@" >>"$rundir/cmd.sh"
echo >>"$rundir/cmd.sh"
: >"$rundir/output"

# framegen runs beside QEMU for the whole run; the guest reaches it through
# files in the run's folder (shared over 9p as out/) and the NIC's socket.
if [ $traffic = 1 ]; then
	mkdir -p "$rundir/traffic"
	out/bin/framegen "$rundir/traffic" 2>"$rundir/framegen.log" &
	framegen_pid=$!
	for _ in $(seq 100); do [ -s "$rundir/traffic/ports" ] && break; sleep 0.05; done
	read -r gen_port qemu_port <"$rundir/traffic/ports" || { cat "$rundir/framegen.log" >&2; exit 1; }
	nic=(-netdev "socket,id=net0,udp=127.0.0.1:$gen_port,localaddr=127.0.0.1:$qemu_port")
	guest_env+=("KMODLAB_TRAFFIC=out/$run/traffic")
fi
# The debug kernel boots on q35: i440fx's _PRT is an AML loop that the
# instrumented ACPI interpreter runs past its 30 s limit, once per PCI device.
machine=() kernel_args=
[ $kernel_name = debian ] || machine=(-machine q35)
# And with 4-level page tables: on a CPU with LA57 (TCG's -cpu max has it) the kernel uses 5-level
# ones, and identify_cpu() clears the boot CPU's feature bits, LA57 among them, for a moment while
# interrupts are on; KASAN, which sizes the kernel's address space from that bit, then takes an
# interrupt handler's access to a 5-level direct-map address for a wild one and reports it (one
# boot in four here, "wild-memory-access in do_raw_spin_lock" from handle_edge_irq at 2 s).
# (The kernel then says it does not know "no5lvl": its early boot code reads it, not a handler.)
[ $kernel_name = debian ] || kernel_args=" no5lvl"
if [ $iommu = 1 ]; then
	machine=(-machine q35 -device intel-iommu)
	kernel_args="$kernel_args intel_iommu=on"
	guest_env+=(KMODLAB_IOMMU=1)
fi

# The guest's init loads the NIC's driver; the guest's programs read which NIC it is.
[ ${#nic[@]} -eq 0 ] || { kernel_args="$kernel_args vm.nic=$nic_model"; guest_env+=("KMODLAB_NIC=$nic_model"); }

# printk.devkmsg=on: init's reports (a kmemleak report is many lines) are not rate-limited.
append="console=ttyS0 loglevel=6 printk.devkmsg=on panic=-1 vm.project=$root vm.run=$run vm.modules=$modules vm.shell=$shell$modroot_arg$kernel_args${VM_KERNEL_ARGS:+ $VM_KERNEL_ARGS}"
[ ${#guest_env[@]} -eq 0 ] || append="$append vm.env=$(IFS=,; echo "${guest_env[*]}")"
qemu=(qemu-system-x86_64 "${accel_args[@]}" "${machine[@]}" -smp "$smp" -m "$mem" -nodefaults -no-reboot
	-display none -kernel "$guest_kernel" -initrd "$initrd_guest" -append "$append"
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
	-virtfs "local,path=$root/out,mount_tag=projout,security_model=none,multidevs=remap")
# virtio-net behind the IOMMU must be a modern-only device: legacy virtio bypasses the DMA API.
nic_device=e1000
[ $nic_model = e1000 ] || nic_device=virtio-net-pci$([ $iommu = 0 ] || echo ,disable-legacy=on,iommu_platform=on)
[ ${#nic[@]} -eq 0 ] || qemu+=("${nic[@]}" -device "$nic_device,netdev=net0,mac=52:54:00:12:34:56")


echo "[vm] $accel, $smp vCPU, ${mem} MiB, kernel $kver" >&2
start=$(date +%s)
if [ $shell = 1 ]; then
	qemu+=(-serial mon:stdio)
	"${qemu[@]}" || true
	exit 0
fi

mkfifo "$rundir/ctl.in" "$rundir/ctl.out"
qemu+=(-serial "file:$rundir/guest.log" -chardev "file,id=cmdout,path=$rundir/output" -serial chardev:cmdout
	-chardev "pipe,id=ctl,path=$rundir/ctl" -serial chardev:ctl)
timeout -k 10 "$timeout" "${qemu[@]}" </dev/null &
qemu_pid=$!
tail -n +1 -f --pid=$qemu_pid "$rundir/output" &
tail_pid=$!
# A trapped signal ends wait early, QEMU still running: wait on (polling only
# after a stop request, for its deadline).
qemu_rc=
while [ -z "$qemu_rc" ]; do
	rc=0
	if [ -z "$stop_deadline" ]; then
		wait "$qemu_pid" || rc=$?
		kill -0 "$qemu_pid" 2>/dev/null || qemu_rc=$rc
	elif ! kill -0 "$qemu_pid" 2>/dev/null; then
		wait "$qemu_pid" || rc=$?
		qemu_rc=$rc
	elif ((SECONDS >= stop_deadline)); then
		echo "[vm] the guest is still running ${stop_wait} s after SIG$stop_signal: powering it off" >&2
		kill "$qemu_pid" 2>/dev/null || true
		stop_deadline=$((SECONDS + 3600))
	else
		sleep 0.2
	fi
done
qemu_pid=
wait $tail_pid 2>/dev/null || true
tail_pid=
cp "$rundir/guest.log" out/vm/guest.log

if [ -n "$stop_signal" ]; then
	bash qemu/check-guest-log.sh "$rundir/guest.log" >&2 || true
	echo "[vm] stopped by SIG$stop_signal$([ -s "$rundir/status" ] && echo ": the command's exit status $(cat "$rundir/status")"); guest log: out/vm/guest.log" >&2
	exit $((128 + $(kill -l "$stop_signal")))
fi

fail() {
	keep_run=1
	echo "[vm] FAILED: $1" >&2
	echo "[vm] guest log: $root/$rundir/guest.log" >&2
	exit "${2:-1}"
}
# The log is read whatever happened: it says why a guest died or hung.
log_ok=1
bash qemu/check-guest-log.sh "$rundir/guest.log" >&2 || log_ok=0
[ $qemu_rc -ne 124 ] && [ $qemu_rc -ne 137 ] || fail "the guest did not finish within ${timeout}s"
[ -s "$rundir/status" ] || fail "the guest stopped without reporting the command's status (crash or panic? qemu exit $qemu_rc)"
status=$(cat "$rundir/status")
[ $log_ok = 1 ] || fail "the guest log shows the problems above" "$([ "$status" -ne 0 ] && echo "$status" || echo 1)"
echo "[vm] exit status $status, $(($(date +%s) - start)) s; guest log: out/vm/guest.log" >&2
rm -rf "$rundir"
exit "$status"
