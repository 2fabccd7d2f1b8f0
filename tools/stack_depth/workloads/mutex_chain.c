/* mutex_chain [THREADS]: threads contend forever on one pthread mutex, each
 * reaching pthread_mutex_lock six calls deep (worker -> run_batch ->
 * process_item -> update_account -> apply_change -> take_lock), so that a
 * stack of a waiter shows how deep an unwinder gets. Built -O2 with and
 * without frame pointers. Prints "ready PID" once the threads run. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long balance;

#define NOINLINE __attribute__((noinline, noclone))
#define NO_TAIL_CALL() __asm__ volatile("" ::: "memory")

static NOINLINE void spin(unsigned long n)
{
	for (volatile unsigned long i = 0; i < n; i++)
		;
}

static NOINLINE int take_lock(int id)
{
	int rc = pthread_mutex_lock(&lock);
	NO_TAIL_CALL();
	return rc + id;
}

static NOINLINE unsigned long apply_change(int id, unsigned long amount)
{
	unsigned long before;

	take_lock(id);
	before = balance;
	spin(20000); /* hold the lock long enough for the others to sleep */
	balance = before + amount;
	pthread_mutex_unlock(&lock);
	NO_TAIL_CALL();
	return before;
}

static NOINLINE unsigned long update_account(int id, unsigned long amount)
{
	unsigned long r = apply_change(id, amount * 2);
	NO_TAIL_CALL();
	return r + 1;
}

static NOINLINE unsigned long process_item(int id, unsigned long item)
{
	unsigned long r = update_account(id, item % 7);
	NO_TAIL_CALL();
	return r ^ item;
}

static NOINLINE unsigned long run_batch(int id)
{
	unsigned long sum = 0;

	for (unsigned long item = 0; item < 64; item++)
		sum += process_item(id, item);
	NO_TAIL_CALL();
	return sum;
}

static void *worker(void *arg)
{
	int id = (int)(long)arg;
	unsigned long total = 0;

	for (;;) {
		total += run_batch(id);
		spin(1000);
	}
	return (void *)total;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 3;
	pthread_t tids[64];

	if (threads < 2 || threads > 64)
		threads = 3;
	for (int i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, worker, (void *)(long)i);
	printf("ready %d\n", getpid());
	fflush(stdout);
	pthread_join(tids[0], NULL);
	return 0;
}
