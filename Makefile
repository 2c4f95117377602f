# One entry point. See README.md. Targets: all run check check-nested traces fuzz fuzz-all coverage clean deps
#
#   make check                 install what is missing, build, run every test
#   make check SANITIZE=1      the same under ASan + UBSan (build-san/)
#   make CC=clang              build with clang
SHELL := /bin/bash
ifeq ($(origin CC),default)
CC := gcc
endif
SANITIZE ?=
Q := @

# Each compiler and sanitizer combination builds into its own folder.
ifneq ($(findstring clang,$(CC)),)
BSUFFIX := -clang
endif
ifeq ($(SANITIZE),1)
B := build-san$(BSUFFIX)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
B := build$(BSUFFIX)
SANFLAGS :=
endif

CSTD := -std=gnu11
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS := $(CSTD) $(WARN) -O2 -g -D_GNU_SOURCE -I. $(SANFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(SANFLAGS) -pthread
LIBS := -lsqlite3 -lfdt -lz

# Library sources: every .c under these folders except programs (*_main.c).
LIB_DIRS := base api devices fidl traces model host vmm vmm/hv vmm-device sim-hypervisor replay launcher
LIB_SRCS := $(filter-out %_main.c,$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRCS))
LIB := $(B)/libvmm.a

# Programs: dir/name_main.c -> $(B)/name
PROG_SRCS := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*_main.c))
PROGS := $(patsubst %_main.c,$(B)/%,$(notdir $(PROG_SRCS)))

TEST_SRCS := $(wildcard tests/test_*.c)
TESTS := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRCS))
# The mutant test (tests/mutant/): the library compiled again with
# -DVMM_TEST_HOOKS (devices/mutant.h) into its own folder and archive, so no
# mutant can reach a normal build. make check runs it with the others.
MUT_OBJS := $(patsubst %.c,$(B)/mutant-obj/%.o,$(LIB_SRCS))
MUT_LIB := $(B)/libvmm-mutant.a
MUT_TEST := $(B)/tests/test_replay_mutants
TESTS += $(MUT_TEST)
# Helpers shared by tests (fake backend, tiny kernels): linked into every test.
TEST_LIB_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/lib/*.c))

GUEST_DIR := $(B)/test-guest
include tests/guest/guest.mk

.PHONY: all run check fuzz coverage clean deps guests traces
# Keep object files of tests and programs (they are intermediate to make).
.SECONDARY:
all: $(LIB) $(PROGS) $(TESTS) guests $(B)/vmm-device

deps:
	$(Q)scripts/deps.sh

$(B)/obj/%.o: %.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(Q)mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

define prog_rule
$(B)/$(notdir $(1:_main.c=)): $(B)/obj/$(1:.c=.o) $(LIB)
	$$(Q)$$(CC) $$(LDFLAGS) $$^ -o $$@ $$(LIBS)
endef
$(foreach p,$(PROG_SRCS),$(eval $(call prog_rule,$(p))))

# The device server's documented name (C file names cannot hold a dash).
$(B)/vmm-device: $(B)/vmm_device
	$(Q)ln -f $< $@

# The UML vsock check's AF_VSOCK tool (tests/uml/README.md): static, so it
# runs in the initramfs with no libc; never sanitized (no runtime there).
all: $(B)/vsock_helper
$(B)/vsock_helper: tests/uml/vsock_helper.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CSTD) $(WARN) -O2 -D_GNU_SOURCE -static $< -o $@

$(B)/mutant-obj/%.o: %.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -DVMM_TEST_HOOKS -MMD -MP -c $< -o $@

$(MUT_LIB): $(MUT_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(MUT_TEST): $(B)/mutant-obj/tests/mutant/test_replay_mutants.o $(TEST_LIB_OBJS) $(MUT_LIB)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(LIBS) -lcmocka

$(B)/tests/%: $(B)/obj/tests/%.o $(TEST_LIB_OBJS) $(LIB)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(LIBS) -lcmocka

# make run: boot the test guest on KVM; without a usable /dev/kvm, replay its
# recorded exits on the simulated hypervisor (the script says which it did).
run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/run.sh $(B)

# make traces: re-record traces/bundled/*.db by booting the test guest on
# KVM (needs /dev/kvm); each is replayed before it is kept.
traces: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)traces/record.sh $(B)

check: deps
	$(Q)scripts/check-layers.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)B=$(B) scripts/fetch-kernel.sh
	$(Q)B=$(B) scripts/run-tests.sh $(TESTS)

# make check-nested: every nested Linux scenario (tests/nested/README.md):
# 1 and 2 vCPUs, each device alone, poweroff, reboot, Stop from the host.
.PHONY: check-nested
check-nested: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)B=$(B) scripts/fetch-kernel.sh
	$(Q)NESTED_SCENARIO=all timeout -k 10 1500 $(B)/tests/test_nested

clean:
	rm -rf build build-san build-clang build-san-clang

-include $(shell find $(B)/obj $(B)/mutant-obj -name '*.d' 2>/dev/null)

# ---- fuzzing and coverage ([model-fuzz]; fuzz/README.md, coverage/README.md) ----
# Each fuzz/<name>.c (but driver.c) is a harness. Plain replay drivers are
# part of every build (make check replays corpora and regressions through
# them); `make fuzz` builds the same sources with afl-clang-fast into
# build-afl/ and runs AFL++ on one harness, `make fuzz-all` on each in turn.
FUZZ_HARNESSES := $(sort $(patsubst fuzz/%.c,%,$(filter-out fuzz/driver.c,$(wildcard fuzz/*.c))))
FUZZ_DRIVERS := $(patsubst %,$(B)/fuzz/%,$(FUZZ_HARNESSES))
SECONDS ?= 60
all: $(FUZZ_DRIVERS)
$(B)/fuzz/%: $(B)/obj/fuzz/%.o $(B)/obj/fuzz/driver.o $(TEST_LIB_OBJS) $(LIB)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(LIBS)

.PHONY: fuzz-all
fuzz: deps
	$(Q)test -n "$(FUZZ)" || { echo "usage: make fuzz FUZZ=<harness> [SECONDS=N]; harnesses: $(FUZZ_HARNESSES)"; exit 2; }
	$(Q)$(MAKE) --no-print-directory B=build-afl CC=afl-clang-fast build-afl/fuzz/$(FUZZ)
	$(Q)fuzz/run.sh $(FUZZ) $(SECONDS)
fuzz-all: deps
	$(Q)for h in $(FUZZ_HARNESSES); do $(MAKE) --no-print-directory fuzz FUZZ=$$h SECONDS=$(SECONDS) || exit 1; done

coverage: deps
	$(Q)coverage/run.sh
clean: clean-fuzz-coverage
clean-fuzz-coverage:
	rm -rf build-afl build-cov coverage/html coverage/lcov.info
