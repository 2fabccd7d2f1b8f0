/* robust_owner_died REPORT
 * A robust, process-shared pthread mutex in a MAP_SHARED mapping. The owner
 * child locks it and stays; the waiter child calls pthread_mutex_lock and
 * sleeps in futex(2); then the parent kills the owner with SIGKILL. The kernel
 * walks the dead owner's robust list, sets FUTEX_OWNER_DIED in the word and
 * wakes the waiter, whose pthread_mutex_lock returns EOWNERDEAD.
 * REPORT gets owner=, waiter=, word_before= (the word while the owner held it
 * with a waiter), word_after_death= (read once the owner is reaped: it has
 * FUTEX_OWNER_DIED unless the waiter already took the mutex over) and
 * waiter_result= (EOWNERDEAD, or the error it got). Exits 0 when the waiter got
 * EOWNERDEAD. */
#include "scenario.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define FUTEX_OWNER_DIED 0x40000000u

int main(int argc, char **argv)
{
	pthread_mutexattr_t attr;
	pthread_mutex_t *mutex;
	int up[2];
	pid_t owner, waiter;
	int status, waiter_status;
	unsigned int word_before, word_after;
	FILE *report;

	if (argc != 2) {
		fprintf(stderr, "usage: robust_owner_died REPORT\n");
		return 2;
	}
	report = open_report(argv[1]);
	mutex = mmap(NULL, sizeof *mutex, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mutex == MAP_FAILED)
		die("mmap");
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	if ((errno = pthread_mutex_init(mutex, &attr)) != 0)
		die("pthread_mutex_init");
	if (pipe(up) != 0)
		die("pipe");

	owner = fork();
	if (owner < 0)
		die("fork");
	if (owner == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((errno = pthread_mutex_lock(mutex)) != 0)
			die("owner: pthread_mutex_lock");
		send_byte(up[1], 'h');
		for (;;)
			pause();
	}
	receive_byte(up[0]);
	fprintf(report, "owner=%d\n", (int)owner);

	waiter = fork();
	if (waiter < 0)
		die("fork");
	if (waiter == 0) {
		int r;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		r = pthread_mutex_lock(mutex);
		if (r == EOWNERDEAD) {
			pthread_mutex_consistent(mutex);
			pthread_mutex_unlock(mutex);
			_exit(0);
		}
		_exit(r == 0 ? 1 : 2);
	}
	fprintf(report, "waiter=%d\n", (int)waiter);
	wait_until_sleeping_in(waiter, SYS_futex);
	word_before = __atomic_load_n((unsigned int *)mutex, __ATOMIC_SEQ_CST);
	fprintf(report, "word_before=%#x\n", word_before);

	if (kill(owner, SIGKILL) != 0)
		die("kill owner");
	if (waitpid(owner, &status, 0) != owner)
		die("waitpid owner");
	word_after = __atomic_load_n((unsigned int *)mutex, __ATOMIC_SEQ_CST);
	fprintf(report, "word_after_death=%#x\n", word_after);
	fprintf(report, "owner_killed=%d\n", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	if (waitpid(waiter, &waiter_status, 0) != waiter)
		die("waitpid waiter");
	if (!WIFEXITED(waiter_status))
		die("waiter ended with status %#x", waiter_status);
	switch (WEXITSTATUS(waiter_status)) {
	case 0: fprintf(report, "waiter_result=EOWNERDEAD\n"); break;
	case 1: fprintf(report, "waiter_result=0\n"); break;
	default: fprintf(report, "waiter_result=error\n"); break;
	}
	fprintf(report, "owner_died_bit_seen=%d\n", (word_after & FUTEX_OWNER_DIED) != 0);
	return WEXITSTATUS(waiter_status) == 0 ? 0 : 1;
}
