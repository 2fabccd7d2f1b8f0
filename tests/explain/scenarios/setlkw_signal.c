/* setlkw_signal [-t] FILE REPORT
 * A blocked fcntl(F_SETLKW) interrupted by a signal another process sends.
 * The holder child takes a write lock on FILE and keeps it; the waiter child
 * installs a SIGUSR1 handler without SA_RESTART and asks for the same lock;
 * once it sleeps in fcntl(2), a third child execs kill(1) to send it SIGUSR1.
 * The waiter's fcntl fails with EINTR. With -t the waiter asks from a second
 * thread while its main thread blocks SIGUSR1: kill(1) directs the signal at
 * the process, and the kernel hands it to the thread that can take it.
 * REPORT gets holder=, waiter=, waiter_tid= (the thread that slept in fcntl),
 * killer= (the pid of the kill process) and waiter_result= (EINTR, or what it
 * got). Exits 0 when the waiter got EINTR. */
#include "scenario.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static void on_usr1(int sig)
{
	(void)sig;
}

static int lock_file(int fd, int cmd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

	return fcntl(fd, cmd, &fl);
}

static const char *path;

/* Waits for the lock with SIGUSR1 handled without SA_RESTART: 0 on EINTR. */
static int wait_for_lock(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	int fd = open(path, O_RDWR | O_CLOEXEC);

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the wait fails with EINTR */
	if (fd < 0 || sigaction(SIGUSR1, &sa, NULL) != 0)
		die("waiter: setup");
	if (lock_file(fd, F_SETLKW) == 0)
		return 1;
	return errno == EINTR ? 0 : 2;
}

static void *waiting_thread(void *result)
{
	sigset_t usr1;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	*(int *)result = wait_for_lock();
	return NULL;
}

/* The main thread blocks SIGUSR1, so only the waiting thread can take it. */
static int wait_in_thread(void)
{
	sigset_t usr1;
	pthread_t thread;
	int result = 3;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	if ((errno = pthread_create(&thread, NULL, waiting_thread, &result)) != 0)
		die("pthread_create");
	pthread_join(thread, NULL);
	return result;
}

int main(int argc, char **argv)
{
	int up[2], down[2];
	pid_t holder, waiter, waiter_tid, killer;
	int status, threaded = argc == 4 && strcmp(argv[1], "-t") == 0;
	FILE *report;

	if (argc != 3 + threaded) {
		fprintf(stderr, "usage: setlkw_signal [-t] FILE REPORT\n");
		return 2;
	}
	path = argv[1 + threaded];
	report = open_report(argv[2 + threaded]);
	if (pipe(up) != 0 || pipe(down) != 0)
		die("pipe");

	holder = fork();
	if (holder < 0)
		die("fork");
	if (holder == 0) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd < 0 || lock_file(fd, F_SETLK) != 0)
			die("holder: lock %s", path);
		send_byte(up[1], 'h');
		receive_byte(down[0]);
		_exit(0);
	}
	receive_byte(up[0]);
	fprintf(report, "holder=%d\n", (int)holder);

	waiter = fork();
	if (waiter < 0)
		die("fork");
	if (waiter == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(threaded ? wait_in_thread() : wait_for_lock());
	}
	fprintf(report, "waiter=%d\n", (int)waiter);
	waiter_tid = wait_until_sleeping_in(waiter, SYS_fcntl);
	fprintf(report, "waiter_tid=%d\n", (int)waiter_tid);

	killer = fork();
	if (killer < 0)
		die("fork");
	if (killer == 0) {
		char pid[16];

		snprintf(pid, sizeof pid, "%d", (int)waiter);
		execlp("kill", "kill", "-USR1", pid, (char *)NULL);
		die("exec kill");
	}
	fprintf(report, "killer=%d\n", (int)killer);
	if (waitpid(killer, &status, 0) != killer || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("kill -USR1 %d failed (status %#x)", (int)waiter, status);

	if (waitpid(waiter, &status, 0) != waiter || !WIFEXITED(status))
		die("waitpid waiter");
	fprintf(report, "waiter_result=%s\n", WEXITSTATUS(status) == 0 ? "EINTR" : WEXITSTATUS(status) == 1 ? "locked" : "error");
	send_byte(down[1], 'g');
	waitpid(holder, NULL, 0);
	return WEXITSTATUS(status) == 0 ? 0 : 1;
}
