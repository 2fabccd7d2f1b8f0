/*
 * condvar_pingpong OPS: two threads take turns OPS times in total, each waiting
 * on one condition variable for the other to hand the turn over.
 *
 * glibc makes the futex calls, so they are estimated: one wait per cond_wait
 * round, one wake per signal that found a waiter, one per failed trylock and one
 * per unlock of a mutex whose word says "waiters".
 */
#include "workload.h"

#include <pthread.h>

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int turn;
static uint64_t total_ops;

struct player {
	pthread_t thread;
	int me;
	uint64_t calls;
	uint64_t sleeps;
};

static void *play(void *arg)
{
	struct player *p = arg;
	uint64_t sleeps_before = thread_sleeps();

	for (uint64_t t = p->me; t < total_ops; t += 2) {
		if (pthread_mutex_trylock(&mutex)) {
			p->calls++;
			pthread_mutex_lock(&mutex);
		}
		while (turn != p->me) {
			pthread_cond_wait(&cond, &mutex);
			p->calls++;
		}
		turn = !p->me;
		/* A lock word of 2 (always, after a cond_wait) makes the unlock a wake. */
		if (__atomic_load_n(&mutex.__data.__lock, __ATOMIC_RELAXED) == 2)
			p->calls++;
		pthread_mutex_unlock(&mutex);
		/*
		 * Signalled after the unlock, so the woken thread seldom finds the mutex
		 * still held (a futex wait inside cond_wait that no count here could see).
		 * __wrefs counts waiters in steps of 8: a signal with none is no syscall.
		 */
		if (__atomic_load_n(&cond.__data.__wrefs, __ATOMIC_RELAXED) >> 3)
			p->calls++;
		pthread_cond_signal(&cond);
	}
	p->sleeps = thread_sleeps() - sleeps_before;
	return NULL;
}

int main(int argc, char **argv)
{
	struct player players[2] = { { .me = 0 }, { .me = 1 } };
	struct workload_result r = { .tasks = 3, .estimated = 1 };
	uint64_t start, join_sleeps;

	total_ops = parse_arg(argc, argv, 1, 200000);
	r.ops = total_ops;
	start = now_ns();
	for (int i = 0; i < 2; i++)
		if ((errno = pthread_create(&players[i].thread, NULL, play, &players[i])))
			die("pthread_create");
	join_sleeps = thread_sleeps();
	for (int i = 0; i < 2; i++) {
		pthread_join(players[i].thread, NULL);
		r.lock_calls += players[i].calls + 1; /* + the join's futex wait */
		r.sleeps += players[i].sleeps;
	}
	r.sleeps += thread_sleeps() - join_sleeps;
	r.elapsed_ns = now_ns() - start;
	report(&r);
	return 0;
}
