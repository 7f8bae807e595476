#!/bin/busybox sh
# PID 1 of the guest. Mounts the host's root read-only over virtio-9p (so the
# guest runs the host's own node) and the project's out/ read-write, loads the
# project's modules, runs the one command qemu/vm.sh asked for, unloads the
# modules again and powers off. Everything it reports goes to the kernel log
# with a "vm:" prefix, where qemu/vm.sh reads it.
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "vm: $*" >/dev/kmsg; }
die() {
	say "FAILED: $*"
	poweroff -f
}
param() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p"; }

if [ "$(param vm.probe)" = 1 ]; then
	say "probe ok"
	poweroff -f
fi

for m in $(cat /modules/order); do
	insmod "/modules/$m.ko" || die "cannot load boot module $m"
done

# The virtio-9p devices are probed asynchronously: retry for a few seconds.
# A 9p channel mounts once, so the root goes to /hostroot and is bound from there.
p9="trans=virtio,version=9p2000.L,msize=512000"
mkdir -p /hostroot
i=0
until mount -t 9p -o "$p9,ro,cache=loose" hostroot /hostroot 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || die "cannot mount the host root over 9p"
	sleep 0.05
done
mount --bind /hostroot /newroot

project=$(param vm.project)
run=$(param vm.run)
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
for dir in /tmp /run /var/tmp /dev/shm; do
	mount -t tmpfs -o mode=1777 tmpfs "/newroot$dir"
done
# A project under /tmp (a fresh clone, say) was just covered: bring it back.
if [ ! -d "/newroot$project" ]; then
	mkdir -p "/newroot$project"
	mount --bind "/hostroot$project" "/newroot$project"
fi
mount -t 9p -o "$p9" projout "/newroot$project/out" || die "cannot mount $project/out"
mkdir -p /newroot/run/kmod
mount --bind /kmod /newroot/run/kmod
# A kernel whose modules are not in the host's /lib/modules (the debug kernel,
# from the host's cache) brings its own: modprobe e1000 then finds them.
modroot=$(param vm.modroot)
if [ -n "$modroot" ]; then
	kver=$(uname -r)
	mount -t tmpfs -o mode=755 tmpfs /newroot/lib/modules
	mkdir -p "/newroot/lib/modules/$kver"
	mount --bind "/hostroot$modroot/lib/modules/$kver" "/newroot/lib/modules/$kver" ||
		die "cannot mount the modules of $kver from $modroot"
fi
ip link set lo up

# kmemleak (debug kernel): what boot allocated is not the run's to answer for.
# Its own thread (a scan every 10 min) is stopped: the run scans at the end, and
# a scan in the middle only takes a vCPU from the tests.
kmemleak=/sys/kernel/debug/kmemleak
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
if [ -w $kmemleak ]; then
	echo scan=off >$kmemleak
	echo scan >$kmemleak
	echo clear >$kmemleak
fi

if [ "$(param vm.modules)" != 0 ]; then
	# The project's virtio_net needs the kernel's failover modules.
	if [ -f /kmod/virtio_net.ko ]; then
		chroot /newroot /sbin/modprobe net_failover || die "cannot load net_failover"
	fi
	# fastnet first: the project's e1000 and virtio_net register their zero-copy operations there.
	for ko in /kmod/fastnet.ko /kmod/*.ko; do
		[ -f "$ko" ] || continue
		[ -d "/sys/module/$(basename "$ko" .ko)" ] && continue
		insmod "$ko" || die "cannot load $(basename "$ko")"
	done
fi
# A virtio NIC's driver (Debian's module, or the debug kernel's built-in one).
if [ "$(param vm.nic)" = virtio ]; then
	chroot /newroot /sbin/modprobe virtio_net || die "cannot load virtio_net"
fi
say "ready"

env="HOME=/tmp PATH=$project/node_modules/.bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
env="$env KMOD_DIR=/run/kmod KMODLAB_VM=1 LANG=C.UTF-8 $(param vm.env | tr ',' ' ')"
if [ "$(param vm.shell)" = 1 ]; then
	setsid cttyhack chroot /newroot /usr/bin/env $env TERM=linux \
		/bin/bash -c "cd $project && exec /bin/bash -i"
	rc=$?
else
	# Raw, so the command's bytes reach the host unchanged (no \n -> \r\n).
	stty -F /dev/ttyS1 raw -echo
	# The host's stop request (vm.sh on Ctrl-C or SIGTERM) is a line, INT or
	# TERM, on the third serial port: no polling, and it works whatever the
	# command does with 9p. The port stays open on fd 3 from here on: the UART
	# empties its FIFO when the port is first opened, so a request that came
	# before an open would be lost.
	exec 3</dev/ttyS2
	stty -F /dev/ttyS2 raw -echo
	# Said before the command runs: vm.sh passes a signal on only once it has seen this line, and
	# a command that wrote something (a file the host waits for) before it would be powered off.
	say "command started"
	# Its own session and process group, so a signal reaches the command and
	# its children as a terminal's Ctrl-C would; env --default-signal undoes
	# the SIGINT and SIGQUIT that a background job of this shell ignores.
	setsid chroot /newroot /usr/bin/env --default-signal $env /bin/bash "$project/out/$run/cmd.sh" \
		</dev/null >/dev/ttyS1 2>&1 &
	cmd=$!
	(
		read -r sig <&3 || exit 0
		case $sig in INT | TERM) ;; *) sig=INT ;; esac
		say "the host asks to stop: SIG$sig to the command, SIGKILL after 5 s"
		# Again until it lands: a request that came with the marker can find the command not yet
		# in its own process group (setsid).
		i=0 sent=0
		while [ $i -lt 50 ] && kill -0 "$cmd" 2>/dev/null; do
			[ $sent = 1 ] || ! kill -"$sig" -"$cmd" 2>/dev/null || sent=1
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL -"$cmd" 2>/dev/null
	) &
	watcher=$!
	exec 3<&-
	wait "$cmd"
	rc=$?
	kill "$watcher" 2>/dev/null
fi
say "command exited with status $rc"

# Whatever the command left running must not keep a module busy.
kill -9 -1 2>/dev/null
# A killed process lets go of its mappings (and so of the modules) only once
# it is reaped, which can take a while on a slow kernel: retry for up to 10 s.
# fastnet last: the drivers use it.
for ko in $(ls /kmod/*.ko | grep -v /fastnet.ko) /kmod/fastnet.ko; do
	name=$(basename "$ko" .ko)
	tries=0
	while [ -d "/sys/module/$name" ] && ! rmmod "$name" 2>/dev/null; do
		tries=$((tries + 1))
		if [ $tries -ge 100 ]; then
			rmmod "$name" || say "FAILED: cannot unload $name"
			break
		fi
		sleep 0.1
	done
done

# Anything allocated during the run and no longer referenced, modules
# unloaded, is a leak: two scans (kmemleak's advice: a fresh object can look
# unreferenced once), then the report into the log, where the checker fails on it.
if [ -w $kmemleak ]; then
	echo scan >$kmemleak
	echo scan >$kmemleak
	if [ -s $kmemleak ]; then
		# One write a line: /dev/kmsg takes each write as one record.
		while IFS= read -r line; do
			echo "kmemleak report: $line" >/dev/kmsg
		done <$kmemleak
		say "FAILED: kmemleak found unreferenced objects"
	else
		say "kmemleak: nothing leaked"
	fi
fi

echo "$rc" >"/newroot$project/out/$run/status"
sync
say "powering off"
poweroff -f
