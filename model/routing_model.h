/* model/routing_model.h - executable specification of capability routing
 * between the launcher, the vmm instances it starts, and their clients
 * (RFC-0210, "Security considerations").
 *
 * Owns: processes (one launcher, clients, vmm instances), the objects their
 * handles refer to (the hypervisor, files read-only or writable, sockets,
 * directories read-only or writable, channels), the operations that move
 * handles (spawn a vmm, create, send by copy or move, close, exit), and the
 * two invariants:
 *   I1. no mutable object (writable file or directory, socket, channel) is reachable
 *       from two vmm instances: vmm state never leaks into another vmm;
 *   I2. only vmm instances and the launcher hold the hypervisor.
 * mr_apply is the reference monitor: it refuses any operation that would
 * break them (or that the caller may not do: no handle, no channel to the
 * receiver). mr_invariants checks a state from scratch, so a test can show
 * that no sequence of allowed operations breaks them, and that the checker
 * does notice when the monitor is switched off.
 *
 * libc only; small fixed tables, as befits a specification.
 */
#ifndef MODEL_ROUTING_MODEL_H
#define MODEL_ROUTING_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#define MR_MAX_PROCS 16
#define MR_MAX_OBJS 64
#define MR_LAUNCHER 0 /* process 0 is always the launcher */

enum mr_proc_kind { MR_NONE, MR_LAUNCHER_PROC, MR_CLIENT, MR_VMM };
enum mr_obj_kind { MR_HYPERVISOR, MR_FILE_RO, MR_FILE_RW, MR_SOCKET, MR_DIR_RO, MR_DIR_RW, MR_CHANNEL };

struct mr_proc {
	enum mr_proc_kind kind;
	bool alive;
	int client;    /* a vmm's client (whose channel it serves), else -1 */
	int channel;   /* a vmm's lifecycle channel object, else -1 */
};

struct mr_obj {
	bool exists;
	enum mr_obj_kind kind;
};

struct mr_state {
	struct mr_proc procs[MR_MAX_PROCS];
	struct mr_obj objs[MR_MAX_OBJS];
	unsigned holds[MR_MAX_PROCS][MR_MAX_OBJS]; /* handles proc p has to object o */
	bool enforce; /* the monitor refuses what would break I1/I2 (tests turn it off) */
};

enum mr_op_kind { MR_OP_NEW_CLIENT, MR_OP_SPAWN_VMM, MR_OP_CREATE, MR_OP_SEND, MR_OP_CLOSE, MR_OP_EXIT };

struct mr_op {
	enum mr_op_kind kind;
	int proc;               /* who acts (SPAWN_VMM: the client asking) */
	int to;                 /* SEND: receiver */
	int obj;                /* SEND/CLOSE: the object; */
	enum mr_obj_kind obj_kind; /* CREATE */
	bool move;              /* SEND: move rather than copy */
};

enum mr_result {
	MR_OK,
	MR_E_BAD_PROC,      /* no such live process, or not allowed to do this */
	MR_E_NO_HANDLE,     /* the actor holds no handle to that object */
	MR_E_NO_ROUTE,      /* no channel between sender and receiver */
	MR_E_FULL,          /* the model's tables are full */
	MR_E_HV_TO_NON_VMM, /* would break I2 */
	MR_E_SHARED_MUTABLE,/* would break I1 */
	MR_E_CREATE_HV,     /* nobody mints a hypervisor handle */
};

/* A launcher holding the hypervisor, nothing else. */
void mr_init(struct mr_state *s, bool enforce);
/* Apply op; *new_id gets a new process or object id where one is made. */
enum mr_result mr_apply(struct mr_state *s, const struct mr_op *op, int *new_id);
/* 0 when I1 and I2 hold; else which one fails (1 or 2), with a reason. */
int mr_invariants(const struct mr_state *s, char *why, size_t whylen);

bool mr_is_mutable(enum mr_obj_kind k);
const char *mr_result_name(enum mr_result r);

#endif
