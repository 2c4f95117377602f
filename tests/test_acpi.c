/* tests/test_acpi.c - the ACPI tables as an OS reads them: found from the
 * RSDP, every checksum and length right, and decompiled by ACPICA's own
 * disassembler (`iasl -d`, Debian's acpica-tools) into what we meant. */
#include "tests/testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/build_path.h"
#include "vmm/acpi.h"
#include "base/guest_mem.h"

/* The vm's virtio-mmio window and GSIs (vmm/vm.h), spelled out so the test
 * does not depend on the vm's header. */
#define VIRTIO_BASE 0xd0000000ull
#define VIRTIO_SIZE 0x200ull
#define VIRTIO_GSI 16
#define NVIRTIO 3
#define RAM (2u << 20)

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static void machine(struct acpi_machine *m, unsigned cpus)
{
	acpi_machine_init(m, cpus);
	m->nvirtio = NVIRTIO;
	for (unsigned i = 0; i < NVIRTIO; i++) {
		m->virtio[i].base = VIRTIO_BASE + i * VIRTIO_SIZE;
		m->virtio[i].size = VIRTIO_SIZE;
		m->virtio[i].gsi = VIRTIO_GSI + i;
	}
}

/* A system description table at gpa: inside the window, 16-byte aligned,
 * the expected signature, and a zero byte sum over its stated length. */
static const uint8_t *table(const struct guest_mem *gm, uint64_t gpa, const char *sig)
{
	assert_true(gpa >= ACPI_TABLES_GPA && gpa + 36 <= ACPI_TABLES_END);
	assert_int_equal(gpa % 16, 0);
	const uint8_t *t = gm_span(gm, gpa, 36);
	assert_non_null(t);
	assert_memory_equal(t, sig, 4);
	uint32_t len = get32(t + 4);
	assert_true(len >= 36 && gpa + len <= ACPI_TABLES_END);
	t = gm_span(gm, gpa, len);
	assert_non_null(t);
	assert_int_equal(sum(t, len), 0);
	assert_memory_equal(t + 10, "RFC210", 6);
	return t;
}

struct tables {
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
};

/* Walk RSDP -> XSDT -> FADT, MADT; FADT -> DSDT; check what is fixed. */
static void find_tables(const struct guest_mem *gm, struct tables *t)
{
	const uint8_t *r = gm_span(gm, ACPI_RSDP_GPA, 36);
	assert_non_null(r);
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(sum(r, 36), 0);
	assert_int_equal(r[15], 2);
	assert_int_equal(get32(r + 20), 36);
	t->rsdp = r;

	t->xsdt = table(gm, get64(r + 24), "XSDT");
	uint32_t xlen = get32(t->xsdt + 4);
	assert_int_equal(xlen, 36 + 2 * 8);
	t->fadt = table(gm, get64(t->xsdt + 36), "FACP");
	t->madt = table(gm, get64(t->xsdt + 44), "APIC");

	assert_int_equal(get32(t->fadt + 4), 276);
	assert_int_equal(t->fadt[8], 6);
	uint64_t dsdt = get64(t->fadt + 140);
	assert_int_equal(get32(t->fadt + 40), dsdt); /* DSDT == X_DSDT */
	t->dsdt = table(gm, dsdt, "DSDT");
	assert_int_equal(t->dsdt[8], 2);
}

static void check_fadt(const uint8_t *f)
{
	uint32_t flags = get32(f + 112);
	assert_true(flags & (1u << 20));  /* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10));  /* RESET_REG_SUP */
	assert_int_equal(get32(f + 36), 0); /* no FACS */
	assert_int_equal(get16(f + 46), 0); /* no SCI */
	for (unsigned off = 56; off < 88; off += 4)
		assert_int_equal(get32(f + off), 0); /* no PM1/PM2/PM timer/GPE blocks */
	uint16_t iapc = get16(f + 109);
	assert_int_equal(iapc & 0x2, 0);  /* no 8042 */
	assert_true(iapc & 0x4);          /* no VGA */
	/* RESET_REG: SystemIO, 8 bits, byte access, our port; value. */
	const uint8_t *g = f + 116;
	assert_int_equal(g[0], 1);
	assert_int_equal(g[1], 8);
	assert_int_equal(g[3], 1);
	assert_int_equal(get64(g + 4), ACPI_RESET_PORT);
	assert_int_equal(f[128], ACPI_RESET_VALUE);
	/* SLEEP_CONTROL_REG and SLEEP_STATUS_REG. */
	for (unsigned off = 244; off <= 256; off += 12) {
		g = f + off;
		assert_int_equal(g[0], 1);
		assert_int_equal(g[1], 8);
		assert_int_equal(get64(g + 4), ACPI_SLEEP_PORT);
	}
}

static void check_madt(const uint8_t *t, unsigned cpus)
{
	assert_int_equal(get32(t + 36), 0xfee00000u);
	uint32_t len = get32(t + 4);
	unsigned lapics = 0, ioapics = 0, nmis = 0;
	for (uint32_t off = 44; off < len;) {
		const uint8_t *e = t + off;
		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], lapics); /* UID */
			assert_int_equal(e[3], lapics); /* APIC ID */
			assert_int_equal(get32(e + 4), 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], cpus);
			assert_int_equal(get32(e + 4), 0xfec00000u);
			assert_int_equal(get32(e + 8), 0);
			ioapics++;
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xff);
			assert_int_equal(e[5], 1);
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	assert_int_equal(lapics, cpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(nmis, 1);
}

/* Everything the guest could see before any text tool looks at it. */
static void build_and_check(struct guest_mem *gm, unsigned cpus, struct tables *t)
{
	struct acpi_machine m;
	machine(&m, cpus);
	assert_int_equal(gm_create(gm, RAM), 0);
	uint64_t rsdp = 0;
	assert_int_equal(acpi_build(gm, &m, &rsdp), 0);
	assert_int_equal(rsdp, ACPI_RSDP_GPA);
	find_tables(gm, t);
	check_fadt(t->fadt);
	check_madt(t->madt, cpus);
}

static void test_tables_1_2_8_cpus(void **state)
{
	(void)state;
	const unsigned counts[] = { 1, 2, 8 };
	for (size_t i = 0; i < 3; i++) {
		struct guest_mem gm;
		struct tables t;
		build_and_check(&gm, counts[i], &t);
		gm_destroy(&gm);
	}
}

/* An OS without a boot-protocol pointer scans 0xe0000-0xfffff on 16-byte
 * boundaries for a checksummed RSDP: it must find ours first. */
static void test_rsdp_found_by_scan(void **state)
{
	(void)state;
	struct guest_mem gm;
	struct tables t;
	build_and_check(&gm, 2, &t);
	uint64_t found = 0;
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
		const uint8_t *p = gm_span(&gm, a, 20);
		if (p && memcmp(p, "RSD PTR ", 8) == 0 && sum(p, 20) == 0) {
			found = a;
			break;
		}
	}
	assert_int_equal(found, ACPI_RSDP_GPA);
	gm_destroy(&gm);
}

/* The reset vector holds real-mode code writing the reset value to the FADT's
 * reset port: mov al, 1; mov dx, 0x3c1; out dx, al; hlt; jmp hlt. */
static void test_reset_vector(void **state)
{
	(void)state;
	struct guest_mem gm;
	struct acpi_machine m;
	machine(&m, 1);
	assert_int_equal(gm_create(&gm, RAM), 0);
	assert_int_equal(acpi_write_reset_vector(&gm, &m), 0);
	uint8_t got[16];
	assert_int_equal(gm_read(&gm, ACPI_RESET_VECTOR_GPA, got, sizeof(got)), 0);
	static const uint8_t want[] = { 0xb0, 0x01, 0xba, 0xc1, 0x03, 0xee, 0xf4, 0xeb, 0xfd };
	assert_memory_equal(got, want, sizeof(want));
	gm_destroy(&gm);
}

static void test_x2apic_beyond_254(void **state)
{
	(void)state;
	struct guest_mem gm;
	struct acpi_machine m;
	machine(&m, 300);
	assert_int_equal(gm_create(&gm, RAM), 0);
	assert_int_equal(acpi_build(&gm, &m, NULL), 0);
	struct tables t;
	find_tables(&gm, &t);
	uint32_t len = get32(t.madt + 4);
	unsigned lapic = 0, x2apic = 0, x2nmi = 0, next_id = 0;
	for (uint32_t off = 44; off < len; off += t.madt[off + 1]) {
		const uint8_t *e = t.madt + off;
		if (e[0] == 0) {
			assert_int_equal(e[3], next_id++);
			lapic++;
		} else if (e[0] == 9) {
			assert_int_equal(e[1], 16);
			assert_int_equal(get32(e + 4), next_id); /* x2APIC ID */
			assert_int_equal(get32(e + 12), next_id); /* UID */
			next_id++;
			x2apic++;
		} else if (e[0] == 10) {
			x2nmi++;
		}
	}
	assert_int_equal(lapic, 255); /* IDs 0-254; 255 is the xAPIC broadcast ID */
	assert_int_equal(x2apic, 300 - 255);
	assert_int_equal(x2nmi, 1);
	gm_destroy(&gm);
}

static void test_refusals(void **state)
{
	(void)state;
	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, RAM), 0);
	/* A pattern in the window shows nothing is written on refusal. */
	assert_int_equal(gm_fill(&gm, ACPI_TABLES_GPA, 0xa5, 0x100), 0);
	struct acpi_machine m;

	machine(&m, 0);
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, ACPI_MAX_CPUS + 1);
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, 1);
	m.nvirtio = ACPI_MAX_VIRTIO + 1;
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, 1);
	m.virtio[1].gsi = m.virtio[0].gsi; /* shared */
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, 1);
	m.virtio[2].gsi = 5; /* ISA line */
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, 1);
	m.virtio[2].gsi = ACPI_IOAPIC_PINS; /* no such pin */
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, 1);
	m.virtio[1].base = m.virtio[0].base + 0x100; /* overlapping windows */
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, 1);
	m.virtio[0].base = 0xfffff000ull; /* crosses 4 GiB */
	m.virtio[0].size = 0x2000;
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, 1);
	m.virtio[0].size = 0;
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, 1);
	m.virtio[0].base = 0x100000; /* guest RAM */
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, 1);
	m.virtio[0].base = 0xfec00000ull; /* the I/O APIC */
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, 1);
	m.serial_irq = 16;
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, 1);
	m.reset_port = m.sleep_port;
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, 1);
	m.sleep_port = 0x3fc; /* inside COM1 */
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	machine(&m, 1);
	m.sleep_port = 0;
	assert_int_equal(acpi_build(&gm, &m, NULL), -EINVAL);
	assert_int_equal(acpi_build(NULL, &m, NULL), -EINVAL);

	/* Accepted by the checks, but the tables outgrow the 64 KiB window. */
	machine(&m, ACPI_MAX_CPUS);
	assert_int_equal(acpi_build(&gm, &m, NULL), -E2BIG);

	const uint8_t *w = gm_span(&gm, ACPI_TABLES_GPA, 0x100);
	for (int i = 0; i < 0x100; i++)
		assert_int_equal(w[i], 0xa5);
	gm_destroy(&gm);

	/* RAM that stops short of the window (it holds the MP table's KiB but
	 * not the BIOS area). */
	assert_int_equal(gm_create(&gm, 0xa0000), 0);
	machine(&m, 1);
	assert_int_equal(acpi_build(&gm, &m, NULL), -ENOSPC);
	gm_destroy(&gm);
}

/* The bytes Linux's hardware-reduced sleep path writes to the sleep port:
 * WAK_STS to clear wake status, then (SLP_TYP << 2) | SLP_EN. */
static void test_sleep_port_bytes(void **state)
{
	(void)state;
	assert_int_equal(ACPI_S5_POWEROFF_BYTE, 0x34);
	assert_true(acpi_sleep_is_poweroff(0x34));
	assert_true(acpi_sleep_is_poweroff(0x34 | 0x03)); /* reserved bits ignored */
	assert_false(acpi_sleep_is_poweroff(ACPI_WAK_STS));
	assert_false(acpi_sleep_is_poweroff(0x14)); /* S5 type without SLP_EN */
	assert_false(acpi_sleep_is_poweroff(0x2c)); /* SLP_EN with S3's type 3 */
	assert_false(acpi_sleep_is_poweroff(0x20)); /* S0 */
}

/* ---- iasl ---- */

static bool have_iasl(void)
{
	return system("command -v iasl >/dev/null 2>&1") == 0;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* Run a shell command in dir; on failure, fail showing its log. */
static void run_in(const char *dir, const char *what, const char *logname)
{
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s >%s 2>&1", dir, what, logname);
	int rc = system(cmd);
	if (rc != 0) {
		char path[512], tail[1024] = "";
		snprintf(path, sizeof(path), "%s/%s", dir, logname);
		char *l = read_file(path);
		size_t n = strlen(l);
		snprintf(tail, sizeof(tail), "%s", n > 900 ? l + n - 900 : l);
		free(l);
		fail_msg("`%s` in %s failed (%d):\n%s", what, dir, rc, tail);
	}
}

/* Dump one table to <dir>/<name>.dat, run `iasl -d` on it, return the .dsl. */
static char *decompile(const char *dir, const char *name, const uint8_t *t)
{
	char path[512], what[128], log[64];
	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	write_file(path, t, get32(t + 4));
	snprintf(what, sizeof(what), "iasl -d %s.dat", name);
	snprintf(log, sizeof(log), "%s.log", name);
	run_in(dir, what, log);
	snprintf(path, sizeof(path), "%s/%s.dsl", dir, name);
	return read_file(path);
}

/* The text from "Device (<name>)" up to the next "Device (" or the end. */
static char *device_block(const char *dsl, const char *name)
{
	char key[32];
	snprintf(key, sizeof(key), "Device (%s)", name);
	const char *s = strstr(dsl, key);
	if (!s)
		fail_msg("no %s in the DSDT", key);
	const char *e = strstr(s + strlen(key), "Device (");
	size_t n = e ? (size_t)(e - s) : strlen(s);
	char *b = strndup(s, n);
	assert_non_null(b);
	return b;
}

#define ASSERT_HAS(text, needle)                                                 \
	do {                                                                     \
		if (!strstr((text), (needle)))                                   \
			fail_msg("expected \"%s\" in the decompiled table", (needle)); \
	} while (0)

/* In iasl's data-table listing ("[off]   Label : Value" lines), the value of
 * the first line labelled `label` after the first line containing `anchor`
 * (NULL: from the top), up to the end of the line. */
static void field(const char *dsl, const char *anchor, const char *label, char *out, size_t n)
{
	const char *p = dsl;
	if (anchor && !(p = strstr(dsl, anchor)))
		fail_msg("no \"%s\" in the decompiled table", anchor);
	char key[128];
	snprintf(key, sizeof(key), "%s : ", label);
	const char *f = strstr(p, key);
	if (!f)
		fail_msg("no field \"%s\" after \"%s\"", label, anchor ? anchor : "the top");
	f += strlen(key);
	size_t k = strcspn(f, "\n");
	snprintf(out, n, "%.*s", (int)k, f);
}

#define ASSERT_FIELD(dsl, anchor, label, expected)                              \
	do {                                                                    \
		char v_[128];                                                   \
		field((dsl), (anchor), (label), v_, sizeof(v_));                \
		if (strcmp(v_, (expected)) != 0)                                \
			fail_msg("%s: \"%s\", expected \"%s\"", (label), v_, (expected)); \
	} while (0)

static void check_dsdt_text(const char *dsdt, unsigned cpus)
{
	char *b;
	for (unsigned i = 0; i < NVIRTIO; i++) {
		char name[8], s[64];
		snprintf(name, sizeof(name), "VR%02X", i);
		b = device_block(dsdt, name);
		ASSERT_HAS(b, "Name (_HID, \"LNRO0005\")");
		snprintf(s, sizeof(s), "Name (_UID, %s)", i == 0 ? "Zero" : i == 1 ? "One" : "0x02");
		ASSERT_HAS(b, s);
		ASSERT_HAS(b, "Memory32Fixed (ReadWrite,");
		snprintf(s, sizeof(s), "0x%08llX,         // Address Base",
		         (unsigned long long)(VIRTIO_BASE + i * VIRTIO_SIZE));
		ASSERT_HAS(b, s);
		ASSERT_HAS(b, "0x00000200,         // Address Length");
		ASSERT_HAS(b, "Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, )");
		snprintf(s, sizeof(s), "0x%08X,", VIRTIO_GSI + i);
		ASSERT_HAS(b, s);
		free(b);
	}
	b = device_block(dsdt, "COM1");
	ASSERT_HAS(b, "EisaId (\"PNP0501\")");
	ASSERT_HAS(b, "IO (Decode16,");
	ASSERT_HAS(b, "0x03F8,             // Range Minimum");
	ASSERT_HAS(b, "0x03F8,             // Range Maximum");
	ASSERT_HAS(b, "0x08,               // Length");
	ASSERT_HAS(b, "IRQNoFlags ()\n                    {4}");
	ASSERT_HAS(b, "Return (0x0F)");
	free(b);
	for (unsigned i = 0; i < cpus; i++) {
		char name[8];
		snprintf(name, sizeof(name), "C%03X", i);
		b = device_block(dsdt, name);
		ASSERT_HAS(b, "Name (_HID, \"ACPI0007\"");
		free(b);
	}
	ASSERT_HAS(dsdt, "Scope (\\_SB)");
	ASSERT_HAS(dsdt, "Name (_S5, Package (0x04)");
	ASSERT_HAS(dsdt, "0x05, \n        0x05, \n        Zero, \n        Zero\n");
}

static void check_madt_text(const char *madt, unsigned cpus)
{
	ASSERT_FIELD(madt, NULL, "Local Apic Address", "FEE00000");
	ASSERT_FIELD(madt, NULL, "PC-AT Compatibility", "1");
	unsigned n = 0;
	const char *p = madt;
	for (; (p = strstr(p, "Subtable Type : 00 [Processor Local APIC]")); p++) {
		char id[8];
		snprintf(id, sizeof(id), "%02X", n);
		ASSERT_FIELD(p, NULL, "Processor ID", id);
		ASSERT_FIELD(p, NULL, "Local Apic ID", id);
		ASSERT_FIELD(p, NULL, "Processor Enabled", "1");
		n++;
	}
	assert_int_equal(n, cpus);
	char id[8];
	snprintf(id, sizeof(id), "%02X", cpus);
	ASSERT_FIELD(madt, "[I/O APIC]", "I/O Apic ID", id);
	ASSERT_FIELD(madt, "[I/O APIC]", "Address", "FEC00000");
	ASSERT_FIELD(madt, "[I/O APIC]", "Interrupt", "00000000");
	ASSERT_FIELD(madt, "[Local APIC NMI]", "Processor ID", "FF");
	ASSERT_FIELD(madt, "[Local APIC NMI]", "Interrupt Input LINT", "01");
}

static void check_fadt_text(const char *fadt)
{
	ASSERT_FIELD(fadt, NULL, "Revision", "06");
	ASSERT_FIELD(fadt, NULL, "Hardware Reduced (V5)", "1");
	ASSERT_FIELD(fadt, NULL, "Reset Register Supported (V2)", "1");
	ASSERT_FIELD(fadt, NULL, "8042 Present on ports 60/64 (V2)", "0");
	ASSERT_FIELD(fadt, NULL, "VGA Not Present (V4)", "1");
	ASSERT_FIELD(fadt, "Reset Register :", "Space ID", "01 [SystemIO]");
	ASSERT_FIELD(fadt, "Reset Register :", "Bit Width", "08");
	ASSERT_FIELD(fadt, "Reset Register :", "Address", "00000000000003C1");
	ASSERT_FIELD(fadt, NULL, "Value to cause reset", "01");
	ASSERT_FIELD(fadt, "Sleep Control Register :", "Space ID", "01 [SystemIO]");
	ASSERT_FIELD(fadt, "Sleep Control Register :", "Bit Width", "08");
	ASSERT_FIELD(fadt, "Sleep Control Register :", "Address", "00000000000003C0");
	ASSERT_FIELD(fadt, "Sleep Status Register :", "Space ID", "01 [SystemIO]");
	ASSERT_FIELD(fadt, "Sleep Status Register :", "Address", "00000000000003C0");
}

static void check_with_iasl(unsigned cpus)
{
	struct guest_mem gm;
	struct tables t;
	build_and_check(&gm, cpus, &t);

	char dir[400], rel[64], cmd[1024];
	snprintf(rel, sizeof(rel), "test-acpi/cpus-%u", cpus);
	build_path(dir, sizeof(dir), rel);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s/recompiled'", dir, dir);
	assert_int_equal(system(cmd), 0);

	char *dsdt = decompile(dir, "dsdt", t.dsdt);
	check_dsdt_text(dsdt, cpus);
	free(dsdt);

	/* Round trip: iasl compiling its own listing (optimisations off, so it
	 * keeps our name forms) gives back our AML byte for byte. */
	run_in(dir, "iasl -oa -p recompiled/dsdt dsdt.dsl", "recompile.log");
	char path[512];
	snprintf(path, sizeof(path), "%s/recompile.log", dir);
	char *log = read_file(path);
	ASSERT_HAS(log, "0 Errors, 0 Warnings");
	free(log);
	snprintf(path, sizeof(path), "%s/recompiled/dsdt.aml", dir);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	uint32_t len = get32(t.dsdt + 4);
	uint8_t *aml = malloc(len + 1);
	assert_non_null(aml);
	assert_int_equal(fread(aml, 1, len + 1, f), len);
	fclose(f);
	assert_memory_equal(aml + 36, t.dsdt + 36, len - 36);
	free(aml);

	char *madt = decompile(dir, "apic", t.madt);
	check_madt_text(madt, cpus);
	free(madt);

	char *fadt = decompile(dir, "facp", t.fadt);
	check_fadt_text(fadt);
	free(fadt);

	gm_destroy(&gm);
}

static void test_iasl_decompiles(void **state)
{
	(void)state;
	if (!have_iasl())
		SKIP_BECAUSE("iasl not found: scripts/deps.sh installs acpica-tools");
	check_with_iasl(1);
	check_with_iasl(2);
	check_with_iasl(8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_1_2_8_cpus),
		cmocka_unit_test(test_rsdp_found_by_scan),
		cmocka_unit_test(test_x2apic_beyond_254),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_sleep_port_bytes),
		cmocka_unit_test(test_reset_vector),
		cmocka_unit_test(test_iasl_decompiles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
