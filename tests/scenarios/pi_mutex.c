/* pi_mutex [HOLD_MS]
 * A PTHREAD_PRIO_INHERIT mutex held by the main thread and wanted by a second
 * thread: the waiter enters FUTEX_LOCK_PI and the kernel sets FUTEX_WAITERS in
 * the lock word. Once the waiter sleeps, main holds on for HOLD_MS (default
 * 200) and must unlock through FUTEX_UNLOCK_PI. Exits 0. */
#include "scenario.h"

#include <linux/futex.h>
#include <pthread.h>

static pthread_mutex_t mutex;
static pid_t waiter_tid;

static void *waiter(void *unused)
{
	(void)unused;
	__atomic_store_n(&waiter_tid, gettid(), __ATOMIC_RELEASE);
	if ((errno = pthread_mutex_lock(&mutex)) != 0)
		die("waiter: lock");
	pthread_mutex_unlock(&mutex);
	return NULL;
}

static int waiter_sleeps_on_mutex(void)
{
	pid_t tid = __atomic_load_n(&waiter_tid, __ATOMIC_ACQUIRE);

	return tid && (__atomic_load_n(&mutex.__data.__lock, __ATOMIC_ACQUIRE) & FUTEX_WAITERS) &&
	       thread_sleeps(tid);
}

int main(int argc, char **argv)
{
	pthread_mutexattr_t attr;
	pthread_t thread;

	pthread_mutexattr_init(&attr);
	if ((errno = pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT)) != 0 ||
	    (errno = pthread_mutex_init(&mutex, &attr)) != 0)
		die("PI mutex");
	pthread_mutex_lock(&mutex);
	if ((errno = pthread_create(&thread, NULL, waiter, NULL)) != 0)
		die("pthread_create");
	for (int waited = 0; !waiter_sleeps_on_mutex(); waited++) {
		if (waited == PATIENCE_MS)
			die("the waiter never blocked on the PI mutex");
		sleep_ms(1);
	}
	sleep_ms(arg_ms(argc, argv, 1, 200));
	pthread_mutex_unlock(&mutex);
	pthread_join(thread, NULL);
	return 0;
}
