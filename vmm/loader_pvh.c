/* vmm/loader_pvh.c - ELF kernels entered through the PVH boot ABI.
 *
 * Parses ELF32/ELF64 headers defensively (every offset and size checked
 * against the file, overflow-safe), finds the XEN_ELFNOTE_PHYS32_ENTRY note,
 * loads PT_LOAD segments at p_paddr, and writes hvm_start_info (version 1)
 * with its memory map and the ramdisk as module 0.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "boot_x86.h"
#include "loader.h"
#include "loader_internal.h"

#define PT_LOAD 1
#define PT_NOTE 4
#define ET_EXEC 2
#define EM_386 3
#define EM_X86_64 62
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define MAX_PHDRS 256           /* far more than any kernel has */
#define MAX_NOTE_SEGMENT (1u << 20)

#define HVM_START_MAGIC 0x336ec578u
#define HVM_START_INFO_SIZE 0x38
#define HVM_MODLIST_ENTRY_SIZE 32
#define HVM_MEMMAP_ENTRY_SIZE 24

struct elf {
	bool is64;
	uint64_t phoff;
	uint16_t phnum, phentsize;
};

struct seg {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

#define BAD(...)                                    \
	do {                                        \
		errf(err, errlen, "ELF: " __VA_ARGS__); \
		return -1;                          \
	} while (0)

static int read_ehdr(const struct kfile *f, struct elf *e, char *err, size_t errlen)
{
	uint8_t h[64];
	if (f->size < 16 || !kf_read(f, 0, h, 16))
		BAD("file truncated in e_ident (%" PRIu64 " bytes)", f->size);
	if (memcmp(h, "\x7f" "ELF", 4) != 0)
		BAD("bad magic");
	if (h[4] != 1 && h[4] != 2)
		BAD("bad EI_CLASS %u", h[4]);
	if (h[5] != 1)
		BAD("not little-endian (EI_DATA %u)", h[5]);
	e->is64 = h[4] == 2;
	uint64_t ehsize = e->is64 ? 64 : 52;
	if (!kf_read(f, 0, h, ehsize))
		BAD("file truncated in the ELF header (%" PRIu64 " bytes, need %" PRIu64 ")",
		    f->size, ehsize);
	uint16_t type = le16_get(h + 16), machine = le16_get(h + 18);
	if (type != ET_EXEC)
		BAD("e_type %u is not ET_EXEC", type);
	if (machine != (e->is64 ? EM_X86_64 : EM_386))
		BAD("e_machine %u is not x86 for this class", machine);
	if (e->is64) {
		e->phoff = le64_get(h + 32);
		e->phentsize = le16_get(h + 54);
		e->phnum = le16_get(h + 56);
	} else {
		e->phoff = le32_get(h + 28);
		e->phentsize = le16_get(h + 42);
		e->phnum = le16_get(h + 44);
	}
	uint16_t want = e->is64 ? 56 : 32;
	if (e->phnum == 0)
		BAD("no program headers");
	if (e->phnum > MAX_PHDRS)
		BAD("%u program headers (at most %u)", e->phnum, MAX_PHDRS);
	if (e->phentsize < want)
		BAD("e_phentsize %u is smaller than a program header (%u)", e->phentsize, want);
	uint64_t tab = (uint64_t)e->phnum * e->phentsize; /* <= 256 * 65535: no overflow */
	if (e->phoff > f->size || tab > f->size - e->phoff)
		BAD("program header table (e_phoff 0x%" PRIx64 ", %" PRIu64
		    " bytes) runs past the end of the file (%" PRIu64 " bytes)",
		    e->phoff, tab, f->size);
	return 0;
}

static int read_phdr(const struct kfile *f, const struct elf *e, unsigned i, struct seg *s,
                     char *err, size_t errlen)
{
	uint8_t p[56];
	uint64_t off = e->phoff + (uint64_t)i * e->phentsize;
	if (!kf_read(f, off, p, e->is64 ? 56 : 32))
		BAD("reading program header %u failed", i);
	s->type = le32_get(p);
	if (e->is64) {
		s->offset = le64_get(p + 8);
		s->paddr = le64_get(p + 24);
		s->filesz = le64_get(p + 32);
		s->memsz = le64_get(p + 40);
	} else {
		s->offset = le32_get(p + 4);
		s->paddr = le32_get(p + 12);
		s->filesz = le32_get(p + 16);
		s->memsz = le32_get(p + 20);
	}
	if (s->offset > f->size || s->filesz > f->size - s->offset)
		BAD("segment %u (offset 0x%" PRIx64 ", p_filesz 0x%" PRIx64
		    ") runs past the end of the file (%" PRIu64 " bytes)",
		    i, s->offset, s->filesz, f->size);
	return 0;
}

static uint64_t up4(uint64_t x) { return (x + 3) & ~3ull; }

/* Look through one PT_NOTE segment. 1 found, 0 not here, -1 malformed. */
static int scan_notes(const struct kfile *f, unsigned idx, const struct seg *s,
                      uint32_t *entry, char *err, size_t errlen)
{
	if (s->filesz > MAX_NOTE_SEGMENT)
		BAD("note segment %u is %" PRIu64 " bytes (at most %u)", idx, s->filesz,
		    MAX_NOTE_SEGMENT);
	uint8_t *buf = malloc(s->filesz ? s->filesz : 1);
	if (!buf)
		BAD("out of memory reading notes");
	int rc = 0;
	if (!kf_read(f, s->offset, buf, s->filesz)) {
		errf(err, errlen, "ELF: reading note segment %u failed", idx);
		rc = -1;
	}
	uint64_t pos = 0, len = s->filesz;
	while (rc == 0 && len - pos >= 12) {
		uint64_t namesz = le32_get(buf + pos), descsz = le32_get(buf + pos + 4);
		uint32_t type = le32_get(buf + pos + 8);
		uint64_t name = pos + 12, desc = name + up4(namesz), next = desc + up4(descsz);
		if (next > len) { /* all terms < 2^34: no overflow */
			errf(err, errlen,
			     "ELF: note at offset 0x%" PRIx64 " of segment %u runs past its end", pos,
			     idx);
			rc = -1;
			break;
		}
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    memcmp(buf + name, "Xen", 4) == 0) {
			/* Linux emits a pointer-sized value, the ABI a 32-bit one. */
			uint64_t v;
			if (descsz == 4) {
				v = le32_get(buf + desc);
			} else if (descsz == 8) {
				v = le64_get(buf + desc);
			} else {
				errf(err, errlen, "ELF: PVH entry note has a %" PRIu64
				     "-byte descriptor (want 4 or 8)", descsz);
				rc = -1;
				break;
			}
			if (v > UINT32_MAX) {
				errf(err, errlen, "ELF: PVH entry 0x%" PRIx64 " is above 4 GiB", v);
				rc = -1;
				break;
			}
			*entry = (uint32_t)v;
			rc = 1;
			break;
		}
		pos = next;
	}
	free(buf);
	return rc;
}

int pvh_probe(const struct kfile *f, uint32_t *entry, char *err, size_t errlen)
{
	struct elf e;
	if (read_ehdr(f, &e, err, errlen) != 0)
		return -1;
	for (unsigned i = 0; i < e.phnum; i++) {
		struct seg s;
		if (read_phdr(f, &e, i, &s, err, errlen) != 0)
			return -1;
		if (s.type != PT_NOTE)
			continue;
		int rc = scan_notes(f, i, &s, entry, err, errlen);
		if (rc != 0)
			return rc;
	}
	return 0;
}

#undef BAD
#define FAIL(...)                                     \
	do {                                          \
		errf(err, errlen, "PVH: " __VA_ARGS__); \
		return GUEST_ERR_KERNEL_LOAD_FAILURE; \
	} while (0)

static enum guest_error start_info(struct guest_mem *gm, uint64_t rd_addr, uint64_t rd_size,
                                   char *err, size_t errlen)
{
	struct x86_e820 map[X86_E820_MAX];
	unsigned n = x86_e820_build(gm, map);
	uint8_t mm[X86_E820_MAX * HVM_MEMMAP_ENTRY_SIZE];
	memset(mm, 0, sizeof(mm));
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = mm + i * HVM_MEMMAP_ENTRY_SIZE;
		le64_put(p, map[i].addr);
		le64_put(p + 8, map[i].size);
		le32_put(p + 16, map[i].type); /* XEN_HVM_MEMMAP_TYPE_* are the e820 types */
	}
	if (gm_write(gm, LOADER_PVH_MEMMAP_GPA, mm, n * HVM_MEMMAP_ENTRY_SIZE) != 0)
		FAIL("memory map area is not guest RAM");

	uint8_t si[HVM_START_INFO_SIZE];
	memset(si, 0, sizeof(si));
	le32_put(si + 0x00, HVM_START_MAGIC);
	le32_put(si + 0x04, 1); /* version 1: has memmap_paddr/entries */
	if (rd_size) {
		uint8_t mod[HVM_MODLIST_ENTRY_SIZE];
		memset(mod, 0, sizeof(mod));
		le64_put(mod, rd_addr);
		le64_put(mod + 8, rd_size);
		if (gm_write(gm, LOADER_PVH_MODLIST_GPA, mod, sizeof(mod)) != 0)
			FAIL("module list area is not guest RAM");
		le32_put(si + 0x0c, 1);
		le64_put(si + 0x10, LOADER_PVH_MODLIST_GPA);
	}
	le64_put(si + 0x18, LOADER_CMDLINE_GPA);
	le64_put(si + 0x20, 0); /* rsdp_paddr: the guest scans the BIOS area */
	le64_put(si + 0x28, LOADER_PVH_MEMMAP_GPA);
	le32_put(si + 0x30, n);
	if (gm_write(gm, LOADER_BOOT_INFO_GPA, si, sizeof(si)) != 0)
		FAIL("start_info area is not guest RAM");
	return GUEST_OK;
}

enum guest_error load_pvh(struct guest_mem *gm, const struct kfile *kf, int ramdisk_fd,
                          const char *cmdline, struct boot_info *bi, char *err,
                          size_t errlen)
{
	uint32_t entry = 0;
	int rc = pvh_probe(kf, &entry, err, errlen);
	if (rc < 0)
		return GUEST_ERR_KERNEL_LOAD_FAILURE;
	if (rc == 0)
		FAIL("ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, name \"Xen\"); "
		     "it cannot be booted");
	struct elf e;
	if (read_ehdr(kf, &e, err, errlen) != 0)
		return GUEST_ERR_KERNEL_LOAD_FAILURE;

	/* Check every segment before writing any. */
	struct seg segs[MAX_PHDRS];
	unsigned idx[MAX_PHDRS], nl = 0;
	uint64_t kstart = UINT64_MAX, kend = 0;
	bool entry_ok = false;
	for (unsigned i = 0; i < e.phnum; i++) {
		struct seg s;
		if (read_phdr(kf, &e, i, &s, err, errlen) != 0)
			return GUEST_ERR_KERNEL_LOAD_FAILURE;
		if (s.type != PT_LOAD || s.memsz == 0)
			continue;
		if (s.filesz > s.memsz)
			FAIL("segment %u has p_filesz 0x%" PRIx64 " > p_memsz 0x%" PRIx64, i,
			     s.filesz, s.memsz);
		if (!gm_valid(gm, s.paddr, s.memsz))
			FAIL("segment %u [0x%" PRIx64 ", +0x%" PRIx64 ") is outside guest RAM (%" PRIu64
			     " bytes)", i, s.paddr, s.memsz, gm->size);
		if (s.paddr < LOADER_KERNEL_MIN)
			FAIL("segment %u at 0x%" PRIx64 " is below 1 MiB, where the vmm keeps boot "
			     "data, the EBDA and the BIOS area", i, s.paddr);
		for (unsigned k = 0; k < nl; k++) {
			const struct seg *o = &segs[k];
			/* Both ranges are valid RAM, so the sums cannot overflow. */
			if (s.paddr < o->paddr + o->memsz && o->paddr < s.paddr + s.memsz)
				FAIL("segments %u and %u overlap", idx[k], i);
		}
		if (entry >= s.paddr && entry - s.paddr < s.memsz)
			entry_ok = true;
		if (s.paddr < kstart)
			kstart = s.paddr;
		if (s.paddr + s.memsz > kend)
			kend = s.paddr + s.memsz;
		idx[nl] = i;
		segs[nl++] = s;
	}
	if (nl == 0)
		FAIL("no loadable (PT_LOAD) segments");
	if (!entry_ok)
		FAIL("entry 0x%x from the PVH note is not inside any PT_LOAD segment", entry);

	for (unsigned k = 0; k < nl; k++) {
		const struct seg *s = &segs[k];
		if (!kf_read_to_guest(kf, s->offset, gm, s->paddr, s->filesz))
			FAIL("reading segment %u failed", idx[k]);
		if (s->memsz > s->filesz &&
		    gm_fill(gm, s->paddr + s->filesz, 0, s->memsz - s->filesz) != 0)
			FAIL("zeroing segment %u failed", idx[k]);
	}

	enum guest_error ge = loader_put_cmdline(gm, cmdline, LOADER_CMDLINE_MAX - 1, err, errlen);
	if (ge != GUEST_OK)
		return ge;
	uint64_t rd_addr = 0, rd_size = 0;
	if (ramdisk_fd >= 0) {
		/* PVH guests start with paging off: keep the module below 4 GiB. */
		ge = loader_put_ramdisk(gm, ramdisk_fd, kend, GM_MMIO_HOLE_START, false, &rd_addr,
		                        &rd_size, err, errlen);
		if (ge != GUEST_OK)
			return ge;
	}
	ge = start_info(gm, rd_addr, rd_size, err, errlen);
	if (ge != GUEST_OK)
		return ge;
	if (x86_write_gdt(gm) != 0)
		FAIL("GDT does not fit in guest RAM");

	x86_regs_protected32(&bi->bsp, entry, (uint32_t)LOADER_BOOT_INFO_GPA);
	bi->kernel_start = kstart;
	bi->kernel_end = kend;
	bi->initrd_start = rd_addr;
	bi->initrd_size = rd_size;
	bi->cmdline_gpa = LOADER_CMDLINE_GPA;
	return GUEST_OK;
}
