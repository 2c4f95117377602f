# Freestanding test guests (see tests/guest/README.md). Included by the top
# Makefile, which sets GUEST_DIR. Built with $(CC), so CC=clang works too.
GUEST_SRC := tests/guest
GUEST_OBJS := $(addprefix $(GUEST_DIR)/,entry.o main.o console.o smp.o virtio.o vtest.o)
# No libc, no PIC, no red zone (interrupts would clobber it), no SSE/x87
# (CR4.OSFXSR stays off), no stack protector or unwind tables.
GUEST_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -O2 -g -ffreestanding -nostdlib \
	-fno-pic -fno-pie -mno-red-zone -mno-sse -mno-sse2 -mno-mmx -mno-80387 \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-builtin -m64
GUEST_LDFLAGS := -nostdlib -static -Wl,-T,$(GUEST_SRC)/guest.ld \
	-Wl,--build-id=none -Wl,-z,noexecstack -Wl,-z,max-page-size=4096

guests: $(GUEST_DIR)/hello.elf

$(GUEST_DIR)/%.o: $(GUEST_SRC)/%.c $(wildcard $(GUEST_SRC)/*.h)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_DIR)/%.o: $(GUEST_SRC)/%.S
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_DIR)/hello.elf: $(GUEST_OBJS) $(GUEST_SRC)/guest.ld
	$(Q)$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) $(GUEST_OBJS) -o $@
