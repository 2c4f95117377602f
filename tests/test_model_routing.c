/* The capability-routing model (model/routing_model.c): random operation
 * sequences never break its invariants while the monitor enforces them; the
 * checker does see violations when it does not (so it is not vacuous), and
 * each one is an operation the monitor refuses. Then a cross-check with the
 * real code: launcher/spawner.c starts a "vmm" (this test binary, which in
 * that role reports what it holds) holding exactly what the model's SPAWN
 * gives a vmm: its channel and the hypervisor, besides stdio. */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launcher/spawner.h"
#include "model/routing_model.h"

extern char **environ;

static uint64_t rng_state;
static uint32_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

/* A random operation over the current state's processes and objects. */
static struct mr_op random_op(const struct mr_state *s)
{
	struct mr_op op = { 0 };
	uint32_t r = rnd() % 100;
	op.kind = r < 8 ? MR_OP_NEW_CLIENT : r < 20 ? MR_OP_SPAWN_VMM : r < 40 ? MR_OP_CREATE
	        : r < 85 ? MR_OP_SEND : r < 95 ? MR_OP_CLOSE : MR_OP_EXIT;
	op.proc = (int)(rnd() % MR_MAX_PROCS);
	/* Prefer live processes and held objects so most operations can happen. */
	for (int tries = 0; tries < 8 && s->procs[op.proc].kind == MR_NONE; tries++)
		op.proc = (int)(rnd() % MR_MAX_PROCS);
	op.to = (int)(rnd() % MR_MAX_PROCS);
	for (int tries = 0; tries < 8 && (s->procs[op.to].kind == MR_NONE || op.to == op.proc); tries++)
		op.to = (int)(rnd() % MR_MAX_PROCS);
	op.obj = (int)(rnd() % MR_MAX_OBJS);
	for (int tries = 0; tries < 16 && !s->holds[op.proc][op.obj]; tries++)
		op.obj = (int)(rnd() % MR_MAX_OBJS);
	op.obj_kind = (enum mr_obj_kind)(rnd() % (MR_CHANNEL + 1));
	op.move = rnd() % 2;
	return op;
}

static const char *const op_names[] = { "NEW_CLIENT", "SPAWN_VMM", "CREATE", "SEND", "CLOSE", "EXIT" };

static void test_invariants_hold(void **state)
{
	const char *env = getenv("MODEL_SEED");
	uint64_t seed0 = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	int nseq = env ? 1 : 2000;
	unsigned ops = 0, allowed = 0, refused_inv = 0;
	for (int k = 0; k < nseq; k++) {
		rng_state = seed0 + (uint64_t)k;
		struct mr_state s;
		mr_init(&s, true);
		for (int i = 0; i < 60; i++) {
			struct mr_op op = random_op(&s);
			enum mr_result r = mr_apply(&s, &op, NULL);
			ops++;
			allowed += r == MR_OK;
			refused_inv += r == MR_E_SHARED_MUTABLE || r == MR_E_HV_TO_NON_VMM;
			char why[160];
			if (mr_invariants(&s, why, sizeof(why)) != 0) {
				print_message("routing: invariant broken after step %d (%s by %d to %d obj %d): "
				              "%s; seed %llu (MODEL_SEED replays it)\n", i, op_names[op.kind],
				              op.proc, op.to, op.obj, why,
				              (unsigned long long)(seed0 + (uint64_t)k));
				fail();
			}
		}
	}
	print_message("routing: %d sequences, %u operations (%u allowed, %u refused to keep the "
	              "invariants); I1 and I2 hold after every step\n", nseq, ops, allowed, refused_inv);
	assert_true(refused_inv > 0);
}

static void test_checker_sees_violations(void **state)
{
	uint64_t seed0 = (uint64_t)time(NULL);
	unsigned violations[3] = { 0 };
	for (int k = 0; k < 2000; k++) {
		rng_state = seed0 + (uint64_t)k;
		struct mr_state s;
		mr_init(&s, false);
		for (int i = 0; i < 60; i++) {
			struct mr_state before = s;
			struct mr_op op = random_op(&s);
			if (mr_apply(&s, &op, NULL) != MR_OK)
				continue;
			char why[160];
			int v = mr_invariants(&s, why, sizeof(why));
			if (v == 0)
				continue;
			violations[v]++;
			/* The monitor would have refused exactly this step. */
			before.enforce = true;
			enum mr_result r = mr_apply(&before, &op, NULL);
			assert_true(r == MR_E_SHARED_MUTABLE || r == MR_E_HV_TO_NON_VMM);
			break;
		}
	}
	print_message("routing without the monitor: %u sequences broke I1, %u broke I2; the monitor "
	              "refuses each breaking step\n", violations[1], violations[2]);
	assert_true(violations[1] > 0 && violations[2] > 0);
}

static ino_t ino_of(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/* The spawned "vmm": report open fds, the environment size and what fds 3
 * and 4 are, on fd 3. */
static int be_vmm(void)
{
	char out[512];
	int n = snprintf(out, sizeof(out), "fds");
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 1;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			n += snprintf(out + n, sizeof(out) - n, " %s", e->d_name);
	closedir(d);
	size_t nenv = 0;
	while (environ && environ[nenv])
		nenv++;
	n += snprintf(out + n, sizeof(out) - n, "; env %zu; ino3 %lu; ino4 %lu", nenv,
	              (unsigned long)ino_of(3), (unsigned long)ino_of(4));
	return write(3, out, (size_t)n) == n ? 0 : 1;
}

static void test_spawner_gives_what_the_model_spawns(void **state)
{
	/* The model: a spawned vmm holds its channel and the hypervisor only. */
	struct mr_state s;
	mr_init(&s, true);
	int client, vmm;
	struct mr_op nc = { .kind = MR_OP_NEW_CLIENT };
	assert_int_equal(mr_apply(&s, &nc, &client), MR_OK);
	struct mr_op mk = { .kind = MR_OP_CREATE, .proc = MR_LAUNCHER, .obj_kind = MR_FILE_RW };
	assert_int_equal(mr_apply(&s, &mk, NULL), MR_OK); /* the launcher holds more than that */
	struct mr_op sp = { .kind = MR_OP_SPAWN_VMM, .proc = client };
	assert_int_equal(mr_apply(&s, &sp, &vmm), MR_OK);
	unsigned held = 0;
	for (int o = 0; o < MR_MAX_OBJS; o++)
		if (s.holds[vmm][o]) {
			held++;
			assert_true(s.objs[o].kind == MR_HYPERVISOR || o == s.procs[vmm].channel);
		}
	assert_int_equal(held, 2);

	/* The real spawner, with the launcher holding extra fds that are not
	 * close-on-exec, which the vmm must not inherit. */
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	int hv = open("/dev/null", O_RDWR); /* stands in for /dev/kvm */
	int extra_rw = memfd_create("launcher-state", 0);
	int extra_dir = open("/", O_RDONLY | O_DIRECTORY);
	assert_true(hv >= 0 && extra_rw >= 0 && extra_dir >= 0);
	struct posix_spawner ps;
	struct spawner sp_real = posix_spawner(&ps, "/proc/self/exe");
	pid_t pid;
	assert_int_equal(sp_real.spawn(sp_real.ctx, sv[1], hv, &pid), 0);
	char buf[512] = { 0 };
	ssize_t n = read(sv[0], buf, sizeof(buf) - 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(n > 0);
	char want[512];
	snprintf(want, sizeof(want), "fds 0 1 2 3 4; env 0; ino3 %lu; ino4 %lu",
	         (unsigned long)ino_of(sv[1]), (unsigned long)ino_of(hv));
	print_message("spawned vmm reports: %s\n", buf);
	assert_string_equal(buf, want);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]); close(sv[1]); close(hv); close(extra_rw); close(extra_dir);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "serve") == 0)
		return be_vmm();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invariants_hold),
		cmocka_unit_test(test_checker_sees_violations),
		cmocka_unit_test(test_spawner_gives_what_the_model_spawns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
