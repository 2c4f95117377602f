/* tests/lib/mini_kernel.c - see mini_kernel.h. ELF layout from the ELF64
 * specification; the note type (18, XEN_ELFNOTE_PHYS32_ENTRY) from the PVH ABI. */
#include "mini_kernel.h"

#include <elf.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("test-kernel", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (len && write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return fd;
}

int mini_pvh_kernel(void)
{
	enum { LOAD = 0x100000, CODE_OFF = 0x1000 };
	static unsigned char img[CODE_OFF + 16];
	memset(img, 0, sizeof(img));
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = LOAD;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 2;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr));
	/* The note sits right after the program headers. */
	size_t note_off = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
	Elf64_Nhdr *nh = (Elf64_Nhdr *)(img + note_off);
	nh->n_namesz = 4;
	nh->n_descsz = 4;
	nh->n_type = 18;
	memcpy(img + note_off + sizeof(*nh), "Xen", 4);
	uint32_t entry = LOAD;
	memcpy(img + note_off + sizeof(*nh) + 4, &entry, 4);
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = CODE_OFF,
	                      .p_vaddr = LOAD, .p_paddr = LOAD, .p_filesz = 16,
	                      .p_memsz = 4096, .p_align = 4096 };
	ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = note_off,
	                      .p_filesz = sizeof(*nh) + 8, .p_memsz = sizeof(*nh) + 8,
	                      .p_align = 4 };
	/* hlt; jmp back */
	img[CODE_OFF] = 0xf4;
	img[CODE_OFF + 1] = 0xeb;
	img[CODE_OFF + 2] = 0xfd;
	return memfd_with(img, sizeof(img));
}
