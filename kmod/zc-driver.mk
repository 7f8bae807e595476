# The build of a driver patched for fastnet zero-copy (included by
# kmod/<driver>-zc/Makefile, which names the driver): its sources of Debian's
# linux-source-6.1, with <driver>-zc.patch (hooks) and the project's glue,
# built out of tree against the guest kernel's headers. The sources come from
# out/linux-source/ (the top Makefile extracts them from the tarball, once for
# every build; no kernel source in the repository) and are copied and patched
# into OUT again only when they or the patch change; kbuild rebuilds the rest
# incrementally. Needs fastnet's Module.symvers (kmod/, built first).
#   DRIVER      the driver's folder in the kernel tree
#   SOURCES     what of that folder the build takes (. for all of it)
#   MODULE      the module it builds
#   PATCH, GLUE, KBUILD   the hooks, the glue files, the Kbuild file
#   PATCH_BASE  what the patch was made against, for the message when it no longer applies
KVER ?= $(shell ../../qemu/kernel-version.sh)
KDIR ?= /lib/modules/$(KVER)/build
SOURCE_TAR ?= /usr/src/linux-source-6.1.tar.xz
LINUX_SOURCE ?= $(abspath ../../out/linux-source)
SRC := $(OUT)/linux/$(DRIVER)
INCLUDE := $(abspath ../include)
SYMVERS := $(abspath ../Module.symvers)

all: $(OUT)/$(MODULE).ko

$(OUT)/source.stamp: $(LINUX_SOURCE)/stamp $(PATCH)
	@rm -rf $(OUT)/linux $@ && mkdir -p $(SRC)
	@cp -a $(addprefix $(LINUX_SOURCE)/$(DRIVER)/,$(SOURCES)) $(SRC)/
	@patch -d $(OUT)/linux -p1 --dry-run -s <$(PATCH) >$(OUT)/patch.log 2>&1 || { \
		cat $(OUT)/patch.log >&2; \
		echo "$(notdir $(CURDIR)): $(PATCH) does not apply to $(DRIVER) of $(SOURCE_TAR)" \
			"(Debian linux-source-6.1 $$(dpkg-query -W -f='$${Version}' linux-source-6.1 2>/dev/null || echo unknown));" \
			"it was made against $(PATCH_BASE)" >&2; \
		exit 1; }
	@patch -d $(OUT)/linux -p1 -s <$(PATCH)
	@touch $@

$(OUT)/$(MODULE).ko: $(OUT)/source.stamp $(GLUE) $(KBUILD) $(INCLUDE)/fastnet_zc.h $(SYMVERS)
	@cp $(GLUE) $(SRC)/
	@cp $(KBUILD) $(SRC)/Kbuild
	@$(MAKE) -s -C $(KDIR) M=$(SRC) W=1 FASTNET_INCLUDE=$(INCLUDE) \
		KBUILD_EXTRA_SYMBOLS=$(SYMVERS) modules
	@cp $(SRC)/$(MODULE).ko $@

$(LINUX_SOURCE)/stamp:
	@echo "$(notdir $(CURDIR)): $(LINUX_SOURCE) is missing: run make at the project's top (it extracts $(SOURCE_TAR))" >&2; exit 1

clean:
	rm -rf $(OUT)

.PHONY: all clean
