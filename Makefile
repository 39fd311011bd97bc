# SPDX-License-Identifier: GPL-2.0
#
# Front door of the dax kmem hotplug series: see README.md.
#
#   make          install what is missing, assemble, build, boot the demo VM
#   make check    static checks, build what is stale, run the selftests in the VM

# The base, pinned here and nowhere else.
BASE_PKG     := linux-source-6.12
BASE_VERSION := 6.12.117-1~deb12u1

TOP   := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD ?= $(TOP)/build
JOBS  ?= $(shell nproc)
export BASE_PKG BASE_VERSION TOP BUILD JOBS

H := $(TOP)/harness

.PHONY: all demo deps assemble kernel initramfs check static vmcheck test shell clean distclean

all: demo

deps:
	@$(H)/deps.sh

assemble: deps
	@$(H)/assemble.sh

kernel: assemble
	@$(H)/build-kernel.sh

initramfs: kernel
	@$(H)/mkinitramfs.sh

demo: initramfs
	@$(H)/vm.sh demo

# T="test1.sh test2.sh" runs only those selftests; MUTANT=name applies
# harness/mutants/name.patch (a deliberate breakage) first.
check:
	@$(H)/check.sh

shell: initramfs
	@$(H)/vm.sh shell

clean:
	rm -rf $(BUILD)/obj $(BUILD)/initramfs* $(BUILD)/vm

distclean:
	rm -rf $(BUILD)
