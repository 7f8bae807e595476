# Builds everything the VM runs. Each target rebuilds only when its inputs
# changed; `npm run setup` (qemu/setup.sh) installs system packages, then
# runs this.
SHELL := /bin/bash
KVER := $(shell qemu/kernel-version.sh)
BIN := node_modules/.bin

NATIVE_SRC := binding.gyp $(wildcard native/*.cc native/*.h kmod/include/uapi/*.h) kmod/fastnet/fastnet_bpf.c kmod/fastnet/fastnet_bpf.h
TS_SRC := tsconfig.json $(shell find lib -name '*.ts')
KMOD_SRC := $(shell find kmod -name '*.[ch]' -o -name Kbuild -o -name Makefile -o -name '*.mk' -o -name '*.patch' -o -name '*.kbuild')
# bpf-verdicts is a host tool linked with libpcap, which its unit test
# (test/unit/bpf-interpreter.test.ts) builds: not a static guest helper.
# pcap-next links libpcap dynamically, so that the preload library
# (out/lib/libpcap-fastnet.so) can answer its calls: not static either.
DYNAMIC_HELPERS := test/helpers/bpf-verdicts.c test/helpers/pcap-next.c
HELPERS := $(patsubst test/helpers/%.c,out/bin/%,$(filter-out $(DYNAMIC_HELPERS),$(wildcard test/helpers/*.c))) out/bin/framegen out/bin/pcap-next
PRELOAD_SRC := $(wildcard pcap/*.c pcap/*.h) kmod/include/uapi/fastnet.h

all: addon typescript modules preload helpers image

addon: build/Release/kmodlab.node
typescript: out/tsc.stamp
modules: out/kmod/stamp
helpers: $(HELPERS)
preload: out/lib/libpcap-fastnet.so
image: out/initramfs.cpio.gz

# Installs exactly the versions in package-lock.json (and builds the addon, the
# package's "install" script). Not `npm ci`: the registry reachable here serves
# only the Linux builds of packages with per-platform binaries (@swc/core,
# jest's unrs-resolver), so the lock cannot list the others and `npm ci`
# rejects it as out of sync; `npm install --no-save` installs from the lock and
# leaves it untouched. --prefer-offline: what npm's cache holds is not checked with the registry
# again (7 s against 14 s for a second clone on one machine).
node_modules/.package-lock.json: package.json package-lock.json
	@echo "[build] npm install (from package-lock.json)"
	@mkdir -p out && npm install --no-save --no-audit --no-fund --prefer-offline --loglevel=error >out/npm-install.log 2>&1 || { cat out/npm-install.log; exit 1; }
	@touch $@

# A new native/*.cc file or a binding.gyp edit needs node-gyp configure again.
# node-gyp runs through npm so that npm's config (nodedir, proxies) applies.
build/Release/kmodlab.node: $(NATIVE_SRC) node_modules/.package-lock.json
	@echo "[build] addon"
	@mkdir -p out
	@if [ ! -f build/Makefile ] || [ binding.gyp -nt build/Makefile ] || [ native -nt build/Makefile ]; then \
		npm exec --no -- node-gyp configure >out/addon-build.log 2>&1 || { cat out/addon-build.log; exit 1; }; fi
	@npm exec --no -- node-gyp build -j max >out/addon-build.log 2>&1 || { cat out/addon-build.log; exit 1; }
	@touch $@

# Then the package's own name and bins are linked in node_modules (qemu/link-package.js).
out/tsc.stamp: $(TS_SRC) package.json qemu/link-package.js node_modules/.package-lock.json
	@echo "[build] typescript"
	@$(BIN)/tsc -p .
	@node qemu/link-package.js
	@mkdir -p out && touch $@

# What the project takes from Debian's linux-source tarball (no kernel source is committed): the
# drivers it patches and checkpatch.pl with its data files. One pass for all of them: the tarball
# is one xz stream, so every extraction reads all of it (about 13 s here).
LINUX_TAR := /usr/src/linux-source-6.1.tar.xz
LINUX_PATHS := drivers/net/ethernet/intel/e1000 drivers/net/virtio_net.c scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch
# The list itself, in a file that changes only with it: a path added is extracted by the next make.
LINUX_PATHS_FILE := out/linux-source.paths
$(shell mkdir -p out && { echo '$(LINUX_PATHS)' | cmp -s - $(LINUX_PATHS_FILE) || echo '$(LINUX_PATHS)' >$(LINUX_PATHS_FILE); })
out/linux-source/stamp: $(LINUX_TAR) $(LINUX_PATHS_FILE)
	@echo "[build] out/linux-source: $(LINUX_PATHS) from $(LINUX_TAR)"
	@test -r $(LINUX_TAR) || { echo "build: $(LINUX_TAR) is missing (apt-get install linux-source-6.1)" >&2; exit 1; }
	@rm -rf out/linux-source && mkdir -p out/linux-source
	@tar -xJf $(LINUX_TAR) -C out/linux-source --strip-components=1 $(addprefix linux-source-6.1/,$(LINUX_PATHS))
	@touch $@

out/kmod/stamp: $(KMOD_SRC) out/linux-source/stamp
	@echo "[build] kernel modules for $(KVER)"
	@$(MAKE) -s -C kmod KVER=$(KVER)
	@echo "[build] e1000 with the zero-copy patch (kmod/e1000-zc)"
	@$(MAKE) -s -C kmod/e1000-zc KVER=$(KVER)
	@echo "[build] virtio_net with the zero-copy patch (kmod/virtio-zc)"
	@$(MAKE) -s -C kmod/virtio-zc KVER=$(KVER)
	@rm -rf out/kmod && mkdir -p out/kmod
	@find kmod -name '*.ko' -exec cp {} out/kmod/ \;
	@cp out/e1000-zc/e1000.ko out/virtio-zc/virtio_net.ko out/kmod/
	@touch $@

out/bin/%: test/helpers/%.c
	@echo "[build] $@"
	@mkdir -p out/bin
	@gcc -O2 -Wall -Wextra -Werror -static -Ikmod/include -o $@ $<

out/bin/pcap-next: test/helpers/pcap-next.c
	@echo "[build] $@"
	@mkdir -p out/bin
	@gcc -O2 -Wall -Wextra -Werror -o $@ $< -lpcap

# The LD_PRELOAD library that gives libpcap programs fastnet devices
# (docs/pcap-preload.md). It does not link libpcap: it finds the real one
# in the process with dlsym(RTLD_NEXT).
out/lib/libpcap-fastnet.so: $(PRELOAD_SRC)
	@echo "[build] $@"
	@mkdir -p out/lib
	@gcc -O2 -g -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -Ikmod/include \
		-Wl,-z,defs -Wl,--as-needed -o $@ $(filter %.c,$(PRELOAD_SRC)) -ldl -lpthread

# The host's end of the guest e1000's UDP backend (vm.sh --traffic).
out/bin/framegen: qemu/framegen.c
	@echo "[build] $@"
	@mkdir -p out/bin
	@gcc -O2 -Wall -Wextra -Werror -o $@ $<

out/initramfs.cpio.gz: qemu/init.sh qemu/mkinitramfs.sh out/kmod/stamp
	@echo "[build] initramfs"
	@bash qemu/mkinitramfs.sh $(KVER) out/kmod $@

# The debug guest kernel (lockdep, KASAN, kmemleak; qemu/debug-kernel.sh builds
# it once per machine, outside the clone) and the project's modules built
# against it, from a copy of kmod/ so that the two builds' objects never mix.
# Recursive `=`: the kernel is looked up (and built) only when these run.
DEBUG_DIR = $(shell bash qemu/debug-kernel.sh)

debug: out/debug/initramfs.cpio.gz

out/debug/kmod/stamp: $(KMOD_SRC) out/linux-source/stamp qemu/debug-kernel.sh qemu/debug-kernel.config $(wildcard qemu/debug-kernel-patches/*.patch)
	@dir="$(DEBUG_DIR)" && [ -n "$$dir" ] && echo "[build] kernel modules for $$(cat $$dir/kver)" && \
	rm -rf out/debug/kmod-build out/debug/kmod && mkdir -p out/debug/kmod-build out/debug/kmod && \
	(cd kmod && find . \( -name '*.[ch]' -o -name Kbuild -o -name Makefile -o -name '*.mk' -o -name '*.patch' -o -name '*.kbuild' \) \
		-print0 | cpio --quiet -pdm0 ../out/debug/kmod-build) && \
	$(MAKE) -s -C out/debug/kmod-build KVER=debug KDIR=$$dir/src && \
	find out/debug/kmod-build -name '*.ko' -exec cp {} out/debug/kmod/ \; && \
	for driver in e1000 virtio; do \
		echo "[build] $$driver with the zero-copy patch, for $$(cat $$dir/kver)" && \
		$(MAKE) -s -C out/debug/kmod-build/$$driver-zc KVER=debug KDIR=$$dir/src OUT=$(CURDIR)/out/debug/$$driver-zc \
			LINUX_SOURCE=$(CURDIR)/out/linux-source || exit 1; \
	done && \
	cp out/debug/e1000-zc/e1000.ko out/debug/virtio-zc/virtio_net.ko out/debug/kmod/
	@touch $@

out/debug/initramfs.cpio.gz: qemu/init.sh qemu/mkinitramfs.sh out/debug/kmod/stamp
	@echo "[build] debug initramfs"
	@dir="$(DEBUG_DIR)" && bash qemu/mkinitramfs.sh "$$(cat $$dir/kver)" out/debug/kmod $@ "$$dir/root"

clean:
	rm -rf out build dist
	$(MAKE) -s -C kmod KVER=$(KVER) clean

.PHONY: all addon typescript modules preload helpers image debug clean
