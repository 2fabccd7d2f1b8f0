/* fcntl_abba DIR
 * Two child processes take POSIX byte locks on DIR/posix in ABBA order: A
 * locks byte 0 and B byte 1 (F_SETLK); then A asks for byte 1 (F_SETLKW) and,
 * once it sleeps in fcntl(2) (/proc/A/syscall and state), B asks for byte 0. The kernel sees
 * the cycle and refuses B with EDEADLK; B exits, which releases byte 1, and A
 * gets it. Prints "edeadlk PID_A PID_B" on stderr and exits 0 when B saw
 * EDEADLK and A got its lock; 1 otherwise. */
#include "scenario.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

struct child {
	pid_t pid;
	int up[2];
	int down[2];
};

static int lock_byte(int fd, int cmd, off_t byte)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

	return fcntl(fd, cmd, &fl);
}

/* Child: lock `mine`, report, wait for the go, then F_SETLKW `other`.
 * Exits 0 when the second lock ends as `expect_errno` says (0: success). */
static void run_child(struct child *self, const char *path, off_t mine, off_t other, int expect_errno)
{
	int fd, ret;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open %s", path);
	if (lock_byte(fd, F_SETLK, mine) != 0)
		die("F_SETLK byte %ld", (long)mine);
	send_byte(self->up[1], 'h');
	receive_byte(self->down[0]);
	ret = lock_byte(fd, F_SETLKW, other);
	if (expect_errno == 0 ? ret == 0 : (ret < 0 && errno == expect_errno))
		_exit(0);
	die("F_SETLKW byte %ld returned %d", (long)other, ret);
}

static int in_fcntl(void *child)
{
	return thread_sleeping_in(((struct child *)child)->pid, SYS_fcntl) != 0;
}

static void start(struct child *c, const char *path, off_t mine, off_t other, int expect_errno)
{
	if (pipe(c->up) != 0 || pipe(c->down) != 0)
		die("pipe");
	c->pid = fork();
	if (c->pid < 0)
		die("fork");
	if (c->pid == 0)
		run_child(c, path, mine, other, expect_errno);
}

int main(int argc, char **argv)
{
	char path[4096];
	struct child a, b;
	int fd, status_a, status_b;

	if (argc < 2)
		return 2;
	snprintf(path, sizeof path, "%s/posix", argv[1]);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		die("create %s", path);

	start(&a, path, 0, 1, 0);
	start(&b, path, 1, 0, EDEADLK);
	receive_byte(a.up[0]);
	receive_byte(b.up[0]);
	send_byte(a.down[1], 'g');
	wait_until(in_fcntl, &a, "A sleeps in F_SETLKW");
	sleep_ms(5); /* its state reads S a moment before it is switched out and its wait recorded */
	send_byte(b.down[1], 'g');
	status_b = reap(b.pid);
	status_a = reap(a.pid);
	fprintf(stderr, "edeadlk %d %d\n", a.pid, b.pid);
	return WIFEXITED(status_a) && WEXITSTATUS(status_a) == 0 && WIFEXITED(status_b) &&
	       WEXITSTATUS(status_b) == 0 ? 0 : 1;
}
