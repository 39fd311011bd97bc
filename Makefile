# SPDX-License-Identifier: GPL-2.0
#
# Front door of the dax kmem hotplug series: see README.md.
#
#   make          install what is missing, assemble, build, boot the demo VM
#   make check    static checks, build what is stale, run the selftests in the VM
#   make bench    stock 6.12 against the series, results in results/bench/
#   make stress   1000 hot-add/remove cycles and racing controllers, seeded
#   make mutants  each deliberate breakage must make its tests fail
#   make series   the series as git am-able patches with a cover letter, in build/series/

# The base, pinned here and nowhere else.
BASE_PKG     := linux-source-6.12
BASE_VERSION := 6.12.117-1~deb12u1

TOP   := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD ?= $(TOP)/build
JOBS  ?= $(shell nproc)
export BASE_PKG BASE_VERSION TOP BUILD JOBS

H := $(TOP)/harness

.PHONY: all demo deps assemble kernel initramfs series check check-stock bench mutants stress static vmcheck test shell clean distclean

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

# The queue and the owned files (one commit per patches/owned/NN-name.txt)
# as patches git am applies onto the pristine base, with a cover letter
# (patches/cover-letter.txt): build/series/. make check applies them and
# compares the result with build/linux.
series: assemble
	@$(H)/series.sh

# T="test1.sh test2.sh" runs only those selftests; MUTANT=name applies
# harness/mutants/name.patch (a deliberate breakage) first.
check:
	@$(H)/check.sh

# The same selftests on the stock kernel (the base, empty queue, upstream's
# kmem), built from the same config in build/stock/: shows which tests the
# series makes pass, e.g. make check-stock T=kmem_unbind.sh
check-stock:
	@KMEM_VARIANT=stock $(H)/check.sh

# Long runs kept out of make check: kmem_cycles.sh with 1000 cycles over
# its four ways out, kmem_race.sh's competing controllers on a random seed
# that is logged (STRESS_SEED=N replays it), kmemleak scanned as in make
# check.
# STRESS_CYCLES=N changes the number of cycles.
stress:
	@KMEM_STRESS=1 $(H)/check.sh

# Every mutant of harness/mutants/ applied in turn and its "Kills:" tests
# run in the VM; fails unless each is killed. Table: results/mutants/.
# MUTANTS="a b" runs only those. Long: about 5-10 minutes per mutant.
mutants: deps
	@$(H)/mutants.sh

# The stock kernel against the series (same base, same config without the
# debugging, same VM and workloads): results/bench/README.md and bench.png.
bench: deps
	@$(H)/bench.sh

shell: initramfs
	@$(H)/vm.sh shell

clean:
	rm -rf $(BUILD)/obj $(BUILD)/initramfs* $(BUILD)/vm

distclean:
	rm -rf $(BUILD)
