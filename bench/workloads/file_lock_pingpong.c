/*
 * flock_pingpong / fcntl_pingpong / ofd_pingpong OPS: two processes take turns
 * OPS times in total, handing the turn over through file locks alone, so nearly
 * every lock call blocks until the other process lets go.
 *
 * Three locks L0..L2 (three files for flock, three byte ranges for fcntl and OFD)
 * make a strict alternation: before turn t the process whose turn it is holds
 * L[t%3] and L[(t+1)%3], the other holds L[(t+2)%3] and waits for L[(t+1)%3].
 * A turn releases L[(t+1)%3], which starts the other's turn t+1, then waits for
 * L[(t+2)%3], which the other releases at the end of turn t+1. A counter in a
 * shared page checks the order.
 *
 * Built three times; LOCK_KIND picks the lock calls. Every call is the
 * workload's own, so lock_calls is exact.
 */
#include "workload.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define KIND_FLOCK 1
#define KIND_FCNTL 2
#define KIND_OFD 3

#ifndef LOCK_KIND
#error "build with -DLOCK_KIND=KIND_FLOCK, KIND_FCNTL or KIND_OFD"
#endif

struct shared {
	uint64_t counter;
	uint64_t child_calls;
	uint64_t child_sleeps;
	int child_failed;
};

struct locks {
	int fd[3]; /* flock: one file each; fcntl and OFD: fd[0] holds three byte ranges */
	uint64_t calls;
};

static char dir[] = "/tmp/locktrace-bench-pingpong-XXXXXX";

static void file_path(char *out, size_t size, int i)
{
	snprintf(out, size, "%s/lock%d", dir, i);
}

/* Each process opens its own files: flock and OFD locks belong to the open file. */
static void open_locks(struct locks *l)
{
	char path[128];

	for (int i = 0; i < (LOCK_KIND == KIND_FLOCK ? 3 : 1); i++) {
		file_path(path, sizeof(path), i);
		l->fd[i] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (l->fd[i] < 0)
			die(path);
	}
}

static void set_lock(struct locks *l, int i, int lock)
{
	int err;

	l->calls++;
#if LOCK_KIND == KIND_FLOCK
	err = flock(l->fd[i], lock ? LOCK_EX : LOCK_UN);
#else
	struct flock fl = {
		.l_type = lock ? F_WRLCK : F_UNLCK,
		.l_whence = SEEK_SET,
		.l_start = i,
		.l_len = 1,
	};
#if LOCK_KIND == KIND_FCNTL
	err = fcntl(l->fd[0], lock ? F_SETLKW : F_SETLK, &fl);
#else
	err = fcntl(l->fd[0], lock ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
#endif
#endif
	if (err)
		die(lock ? "lock" : "unlock");
}

/* Plays turns me, me + 2, ... < ops, holding the locks the invariant says. */
static int play(struct locks *l, struct shared *sh, int me, uint64_t ops)
{
	uint64_t t = me;

	if (me == 1)
		set_lock(l, 1, 1); /* turn 1 starts when turn 0 releases L1 */
	for (;;) {
		if (__atomic_load_n(&sh->counter, __ATOMIC_ACQUIRE) != t) {
			fprintf(stderr, "pingpong: turn %llu saw counter %llu\n",
				(unsigned long long)t, (unsigned long long)sh->counter);
			return 1;
		}
		__atomic_store_n(&sh->counter, t + 1, __ATOMIC_RELEASE);
		set_lock(l, (t + 1) % 3, 0);
		if (t + 2 >= ops)
			break;
		set_lock(l, (t + 2) % 3, 1);
		t += 2;
	}
	set_lock(l, t % 3, 0);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t ops = parse_arg(argc, argv, 1, 100000);
	struct workload_result r = { .ops = ops, .tasks = 2 };
	struct locks l = { .fd = { -1, -1, -1 } };
	struct shared *sh;
	int ready[2], status, failed;
	uint64_t start, sleeps_before;
	pid_t child;
	char byte = 0;

	if (ops < 2) {
		fprintf(stderr, "%s: needs at least 2 ops\n", argv[0]);
		return 2;
	}
	if (!mkdtemp(dir))
		die("mkdtemp");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");
	if (pipe(ready))
		die("pipe");
	/* L0 and L1 are taken before the child exists, so it cannot take L1 first. */
	open_locks(&l);
	set_lock(&l, 0, 1);
	set_lock(&l, 1, 1);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		struct locks own = { .fd = { -1, -1, -1 } };

		open_locks(&own);
		set_lock(&own, 2, 1);
		if (write(ready[1], &byte, 1) != 1)
			die("write");
		sleeps_before = thread_sleeps();
		sh->child_failed = play(&own, sh, 1, ops);
		sh->child_sleeps = thread_sleeps() - sleeps_before;
		sh->child_calls = own.calls;
		_exit(0);
	}
	if (read(ready[0], &byte, 1) != 1)
		die("read");
	sleeps_before = thread_sleeps();
	start = now_ns();
	failed = play(&l, sh, 0, ops);
	r.sleeps = thread_sleeps() - sleeps_before;
	if (waitpid(child, &status, 0) != child)
		die("waitpid");
	r.elapsed_ns = now_ns() - start;
	failed |= sh->child_failed || !WIFEXITED(status) || WEXITSTATUS(status);
	r.lock_calls = l.calls + sh->child_calls;
	r.sleeps += sh->child_sleeps;
	for (int i = 0; i < 3; i++) {
		char path[128];

		file_path(path, sizeof(path), i);
		unlink(path);
	}
	rmdir(dir);
	if (failed || sh->counter != ops) {
		fprintf(stderr, "%s: the turns went out of order\n", argv[0]);
		return 1;
	}
	report(&r);
	return 0;
}
