/* mutex_contention [HOLD_MS]
 * The main thread holds a default pthread mutex; a second thread blocks on it
 * in FUTEX_WAIT. Once glibc has marked the mutex contended (lock word 2, set
 * just before FUTEX_WAIT) and the waiter sleeps, main holds on for HOLD_MS
 * (default 200) and unlocks, which takes a FUTEX_WAKE. Exits 0. */
#include "scenario.h"

#include <pthread.h>

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pid_t waiter_tid;

static void *waiter(void *unused)
{
	(void)unused;
	__atomic_store_n(&waiter_tid, gettid(), __ATOMIC_RELEASE);
	pthread_mutex_lock(&mutex);
	pthread_mutex_unlock(&mutex);
	return NULL;
}

static int waiter_sleeps_on_mutex(void)
{
	pid_t tid = __atomic_load_n(&waiter_tid, __ATOMIC_ACQUIRE);

	return tid && __atomic_load_n(&mutex.__data.__lock, __ATOMIC_ACQUIRE) == 2 &&
	       thread_sleeps(tid);
}

int main(int argc, char **argv)
{
	pthread_t thread;

	pthread_mutex_lock(&mutex);
	if ((errno = pthread_create(&thread, NULL, waiter, NULL)) != 0)
		die("pthread_create");
	for (int waited = 0; !waiter_sleeps_on_mutex(); waited++) {
		if (waited == PATIENCE_MS)
			die("the waiter never blocked on the mutex");
		sleep_ms(1);
	}
	sleep_ms(arg_ms(argc, argv, 1, 200));
	pthread_mutex_unlock(&mutex);
	pthread_join(thread, NULL);
	return 0;
}
