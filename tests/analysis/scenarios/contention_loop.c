/* contention_loop [ROUNDS] [HOLD_US]
 * Two threads, "cont-a" and "cont-b", each take one default pthread mutex
 * ROUNDS times (default 30) and hold it HOLD_US microseconds (default 2000)
 * with a short sleep in between, so each often sleeps in FUTEX_WAIT for the
 * other; no deadlock. Prints "mutex ADDRESS" on stderr, each thread
 * "cont-X TID" before it starts, and both start together. Exits 0. */
#include "scenario.h"

#include <pthread.h>

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static long rounds = 30, hold_us = 2000;
static int started;

static int all_started(void *unused)
{
	(void)unused;
	return __atomic_load_n(&started, __ATOMIC_ACQUIRE) == 2;
}

static void *worker(void *name)
{
	struct timespec hold = { 0, hold_us * 1000 }, gap = { 0, 100 * 1000 };

	pthread_setname_np(pthread_self(), name);
	fprintf(stderr, "%s %d\n", (const char *)name, gettid());
	__atomic_add_fetch(&started, 1, __ATOMIC_ACQ_REL);
	wait_until(all_started, NULL, "both workers started");
	for (long i = 0; i < rounds; i++) {
		pthread_mutex_lock(&mutex);
		nanosleep(&hold, NULL);
		pthread_mutex_unlock(&mutex);
		nanosleep(&gap, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t a, b;

	if (argc > 1)
		rounds = strtol(argv[1], NULL, 10);
	if (argc > 2)
		hold_us = strtol(argv[2], NULL, 10);
	if (hold_us >= 1000000)
		return 2;
	fprintf(stderr, "mutex %p\n", (void *)&mutex);
	if ((errno = pthread_create(&a, NULL, worker, "cont-a")) != 0 ||
	    (errno = pthread_create(&b, NULL, worker, "cont-b")) != 0)
		die("pthread_create");
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return 0;
}
