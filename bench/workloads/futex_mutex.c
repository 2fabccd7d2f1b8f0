/*
 * futex_mutex OPS [THREADS]: THREADS threads (default 2) take one pthread mutex
 * OPS times in total around a one-increment critical section.
 *
 * glibc makes the futex calls, so they are estimated: a failed trylock is one
 * futex wait, and an unlock of a lock word that says "waiters" (2) is one wake.
 */
#include "workload.h"

#include <pthread.h>
#include <sched.h>

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static uint64_t shared_counter;
static int started; /* a spin barrier: a pthread barrier would add futex calls */
static uint64_t waiting;

struct worker {
	pthread_t thread;
	uint64_t ops;
	uint64_t calls;
	uint64_t sleeps;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t sleeps_before = thread_sleeps();

	__atomic_fetch_add(&waiting, 1, __ATOMIC_RELAXED);
	while (!__atomic_load_n(&started, __ATOMIC_ACQUIRE))
		sched_yield();
	for (uint64_t i = 0; i < w->ops; i++) {
		if (pthread_mutex_trylock(&mutex)) {
			w->calls++;
			pthread_mutex_lock(&mutex);
		}
		shared_counter++;
		if (__atomic_load_n(&mutex.__data.__lock, __ATOMIC_RELAXED) == 2)
			w->calls++;
		pthread_mutex_unlock(&mutex);
	}
	w->sleeps = thread_sleeps() - sleeps_before;
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t ops = parse_arg(argc, argv, 1, 1000000);
	uint64_t threads = parse_arg(argc, argv, 2, 2);
	struct workload_result r = { .ops = ops, .tasks = threads + 1, .estimated = 1 };
	struct worker *workers = calloc(threads, sizeof(*workers));
	uint64_t start, join_sleeps;

	if (!workers)
		die("calloc");
	for (uint64_t i = 0; i < threads; i++) {
		workers[i].ops = ops / threads + (i < ops % threads);
		if ((errno = pthread_create(&workers[i].thread, NULL, work, &workers[i])))
			die("pthread_create");
	}
	while (__atomic_load_n(&waiting, __ATOMIC_RELAXED) < threads)
		sched_yield();
	start = now_ns();
	__atomic_store_n(&started, 1, __ATOMIC_RELEASE);
	join_sleeps = thread_sleeps();
	for (uint64_t i = 0; i < threads; i++) {
		pthread_join(workers[i].thread, NULL);
		r.lock_calls += workers[i].calls + 1; /* + the join's futex wait */
		r.sleeps += workers[i].sleeps;
	}
	r.sleeps += thread_sleeps() - join_sleeps;
	r.elapsed_ns = now_ns() - start;
	if (shared_counter != ops) {
		fprintf(stderr, "futex_mutex: counter %llu, expected %llu\n",
			(unsigned long long)shared_counter, (unsigned long long)ops);
		return 1;
	}
	report(&r);
	free(workers);
	return 0;
}
