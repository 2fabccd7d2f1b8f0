/* flock_abba [-a] [-x MS] [-n ROUNDS] [-r] DIR
 * Two child processes deadlock on two flock(2) locks, in ABBA order: child A
 * opens and locks DIR/flock-1, child B DIR/flock-2; once both hold theirs
 * (pipes), A asks for flock-2, and once it sleeps in flock(2) (/proc/A/syscall
 * and state), B asks for flock-1. The kernel detects no flock cycles: both
 * sleep forever. The parent then prints "deadlocked PID_A PID_B" (stdout with
 * -a, else stderr); with -x it kills and reaps both MS milliseconds later and
 * exits 0, else it waits to be killed (the children die with it). With -n
 * (which needs -x) it does all that ROUNDS times, with new children each time.
 * With -r a third child reads /proc/locks in a loop all along, as lslocks or a
 * monitoring agent would; each read takes the kernel's file_rwsem for writing,
 * which makes a flock(2) caller sleep briefly before its request is queued. */
#include "scenario.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

struct child {
	pid_t pid;
	int up[2];   /* child -> parent: 'h' when it holds its lock */
	int down[2]; /* parent -> child: 'g' to ask for the other lock */
};

static void run_child(struct child *self, const char *mine, const char *other)
{
	int fd_mine, fd_other;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd_mine = open(mine, O_RDWR | O_CLOEXEC);
	fd_other = open(other, O_RDWR | O_CLOEXEC);
	if (fd_mine < 0 || fd_other < 0)
		die("open");
	if (flock(fd_mine, LOCK_EX) != 0)
		die("flock %s", mine);
	send_byte(self->up[1], 'h');
	receive_byte(self->down[0]);
	flock(fd_other, LOCK_EX);
	die("got the lock on %s", other);
}

/* Reads /proc/locks until killed. */
static pid_t start_reader(void)
{
	pid_t pid = fork();
	char buf[4096];

	if (pid < 0)
		die("fork");
	if (pid > 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		FILE *locks = fopen("/proc/locks", "r");

		if (!locks)
			die("open /proc/locks");
		while (fread(buf, 1, sizeof buf, locks) > 0)
			;
		fclose(locks);
	}
}

static int in_flock(void *child)
{
	return thread_sleeping_in(((struct child *)child)->pid, SYS_flock) != 0;
}

static void start(struct child *c, const char *mine, const char *other)
{
	if (pipe(c->up) != 0 || pipe(c->down) != 0)
		die("pipe");
	c->pid = fork();
	if (c->pid < 0)
		die("fork");
	if (c->pid == 0)
		run_child(c, mine, other);
}

/* One deadlock between two fresh children; returns once both sleep in flock. */
static void deadlock(struct child *a, struct child *b, const char *path1, const char *path2)
{
	start(a, path1, path2);
	start(b, path2, path1);
	receive_byte(a->up[0]);
	receive_byte(b->up[0]);
	send_byte(a->down[1], 'g');
	wait_until(in_flock, a, "A sleeps in flock");
	sleep_ms(5); /* its state reads S a moment before it is switched out and its wait recorded */
	send_byte(b->down[1], 'g');
	wait_until(in_flock, b, "B sleeps in flock");
}

/* Kills both (before either lock is freed) and reaps them. */
static void end(struct child *a, struct child *b)
{
	struct child *both[2] = { a, b };

	kill(a->pid, SIGKILL);
	kill(b->pid, SIGKILL);
	for (int i = 0; i < 2; i++) {
		reap(both[i]->pid);
		close(both[i]->up[0]);
		close(both[i]->up[1]);
		close(both[i]->down[0]);
		close(both[i]->down[1]);
	}
}

int main(int argc, char **argv)
{
	char path1[4096], path2[4096];
	struct child a, b;
	FILE *announce = stderr;
	long exit_after_ms = -1, rounds = 1;
	pid_t reader = 0;
	int fd1, fd2, opt, read_proc_locks = 0;

	while ((opt = getopt(argc, argv, "ax:rn:")) != -1) {
		if (opt == 'a')
			announce = stdout;
		else if (opt == 'x')
			exit_after_ms = strtol(optarg, NULL, 10);
		else if (opt == 'r')
			read_proc_locks = 1;
		else if (opt == 'n')
			rounds = strtol(optarg, NULL, 10);
		else
			return 2;
	}
	if (optind >= argc || rounds < 1 || (rounds > 1 && exit_after_ms < 0))
		return 2;
	snprintf(path1, sizeof path1, "%s/flock-1", argv[optind]);
	snprintf(path2, sizeof path2, "%s/flock-2", argv[optind]);
	fd1 = open(path1, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	fd2 = open(path2, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd1 < 0 || fd2 < 0)
		die("create %s", argv[optind]);
	close(fd1);
	close(fd2);
	if (read_proc_locks)
		reader = start_reader();

	for (long round = 0; round < rounds; round++) {
		deadlock(&a, &b, path1, path2);
		fprintf(announce, "deadlocked %d %d\n", a.pid, b.pid);
		fflush(announce);
		if (exit_after_ms < 0)
			for (;;)
				pause();
		sleep_ms(exit_after_ms);
		end(&a, &b);
	}
	if (reader) {
		kill(reader, SIGKILL);
		reap(reader);
	}
	return 0;
}
