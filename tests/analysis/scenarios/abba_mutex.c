/* abba_mutex [-a] [-x MS]
 * Two threads deadlock on two default pthread mutexes, in ABBA order:
 * "abba-a" takes mutex 1 and "abba-b" mutex 2; then a waits for mutex 2, and
 * only once a sleeps on it (lock word 2, thread state S) does b wait for
 * mutex 1. Each thread names itself and prints "abba-X TID" on stderr before
 * it locks anything. When both sleep, the main thread prints
 * "deadlocked PID TID_A TID_B" (on stdout with -a, else stderr); with -x it
 * exits 0 MS milliseconds later, else it waits to be killed. */
#include "scenario.h"

#include <pthread.h>

static pthread_mutex_t mutex1 = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mutex2 = PTHREAD_MUTEX_INITIALIZER;
static pid_t tid_a, tid_b;
static int b_holds_2;

static int sleeps_on(pthread_mutex_t *mutex, pid_t tid)
{
	return tid && __atomic_load_n(&mutex->__data.__lock, __ATOMIC_ACQUIRE) == 2 && thread_sleeps(tid);
}

static int b_ready(void *unused)
{
	(void)unused;
	return __atomic_load_n(&b_holds_2, __ATOMIC_ACQUIRE);
}

static int a_sleeps_on_2(void *unused)
{
	(void)unused;
	return sleeps_on(&mutex2, __atomic_load_n(&tid_a, __ATOMIC_ACQUIRE));
}

static int both_sleep(void *unused)
{
	(void)unused;
	return a_sleeps_on_2(NULL) && sleeps_on(&mutex1, __atomic_load_n(&tid_b, __ATOMIC_ACQUIRE));
}

static void name_self(const char *name, pid_t *tid)
{
	pthread_setname_np(pthread_self(), name);
	fprintf(stderr, "%s %d\n", name, gettid());
	__atomic_store_n(tid, gettid(), __ATOMIC_RELEASE);
}

static void *thread_a(void *unused)
{
	(void)unused;
	name_self("abba-a", &tid_a);
	pthread_mutex_lock(&mutex1);
	wait_until(b_ready, NULL, "abba-b holds mutex 2");
	pthread_mutex_lock(&mutex2);
	die("abba-a got mutex 2");
	return NULL;
}

static void *thread_b(void *unused)
{
	(void)unused;
	name_self("abba-b", &tid_b);
	pthread_mutex_lock(&mutex2);
	__atomic_store_n(&b_holds_2, 1, __ATOMIC_RELEASE);
	wait_until(a_sleeps_on_2, NULL, "abba-a sleeps on mutex 2");
	/* Its state reads S a moment before the scheduler switches it out (and the
	 * tracer records the wait): let that happen first. */
	sleep_ms(5);
	pthread_mutex_lock(&mutex1);
	die("abba-b got mutex 1");
	return NULL;
}

int main(int argc, char **argv)
{
	FILE *announce = stderr;
	long exit_after_ms = -1;
	pthread_t a, b;
	int opt;

	while ((opt = getopt(argc, argv, "ax:")) != -1) {
		if (opt == 'a')
			announce = stdout;
		else if (opt == 'x')
			exit_after_ms = strtol(optarg, NULL, 10);
		else
			return 2;
	}
	if ((errno = pthread_create(&a, NULL, thread_a, NULL)) != 0 ||
	    (errno = pthread_create(&b, NULL, thread_b, NULL)) != 0)
		die("pthread_create");
	wait_until(both_sleep, NULL, "both threads sleep on the other's mutex");
	fprintf(announce, "deadlocked %d %d %d\n", getpid(), tid_a, tid_b);
	fflush(announce);
	if (exit_after_ms >= 0) {
		sleep_ms(exit_after_ms);
		_exit(0);
	}
	for (;;)
		pause();
}
