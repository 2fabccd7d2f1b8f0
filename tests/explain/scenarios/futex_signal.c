/* futex_signal REPORT
 * A raw FUTEX_WAIT interrupted by a signal: the waiter child installs a
 * SIGUSR1 handler without SA_RESTART and waits on a futex word nobody will
 * change; once it sleeps in futex(2), the parent sends it SIGUSR1. The wait
 * fails with EINTR.
 * REPORT gets waiter=, sender= (the parent) and waiter_result= (EINTR, or what
 * it got). Exits 0 when the waiter got EINTR. */
#include "scenario.h"

#include <linux/futex.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static void on_usr1(int sig)
{
	(void)sig;
}

static int wait_forever(void)
{
	static uint32_t word;
	struct sigaction sa = { .sa_handler = on_usr1 };

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the wait fails with EINTR */
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		die("waiter: sigaction");
	if (syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) == 0)
		return 1;
	return errno == EINTR ? 0 : 2;
}

int main(int argc, char **argv)
{
	pid_t waiter;
	int status;

	if (argc != 2)
		die("usage: futex_signal REPORT");
	waiter = fork();
	if (waiter < 0)
		die("fork");
	if (waiter == 0)
		_exit(wait_forever());
	wait_until_sleeping_in(waiter, SYS_futex);
	if (kill(waiter, SIGUSR1) != 0)
		die("kill");
	if (waitpid(waiter, &status, 0) != waiter)
		die("waitpid");
	int eintr = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	FILE *out = open_report(argv[1]);
	fprintf(out, "waiter=%d\nsender=%d\nwaiter_result=%s\n", (int)waiter, (int)getpid(),
		eintr ? "EINTR" : "other");
	fclose(out);
	return eintr ? 0 : 1;
}
