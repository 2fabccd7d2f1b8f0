/* mutex_timedlock REPORT
 * The owner thread locks a plain pthread mutex and keeps it; the waiter
 * thread's pthread_mutex_timedlock (100 ms) sleeps in futex(2) and times out
 * with ETIMEDOUT. REPORT gets owner_tid=, waiter_tid= and waiter_result=
 * (ETIMEDOUT, or what it got). Exits 0 when the waiter timed out. */
#include "scenario.h"

#include <pthread.h>
#include <sys/syscall.h>

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static int up[2], down[2];

static void *owner(void *report)
{
	if ((errno = pthread_mutex_lock(&mutex)) != 0)
		die("owner: pthread_mutex_lock");
	fprintf(report, "owner_tid=%ld\n", (long)syscall(SYS_gettid));
	send_byte(up[1], 'h');
	receive_byte(down[0]);
	pthread_mutex_unlock(&mutex);
	return NULL;
}

static void *waiter(void *report)
{
	struct timespec deadline;
	int r;

	fprintf(report, "waiter_tid=%ld\n", (long)syscall(SYS_gettid));
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += 100 * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	r = pthread_mutex_timedlock(&mutex, &deadline);
	fprintf(report, "waiter_result=%s\n", r == ETIMEDOUT ? "ETIMEDOUT" : r == 0 ? "0" : "error");
	if (r == 0)
		pthread_mutex_unlock(&mutex);
	return (void *)(long)(r == ETIMEDOUT ? 0 : 1);
}

int main(int argc, char **argv)
{
	pthread_t owner_thread, waiter_thread;
	void *result;
	FILE *report;

	if (argc != 2) {
		fprintf(stderr, "usage: mutex_timedlock REPORT\n");
		return 2;
	}
	report = open_report(argv[1]);
	if (pipe(up) != 0 || pipe(down) != 0)
		die("pipe");
	if ((errno = pthread_create(&owner_thread, NULL, owner, report)) != 0)
		die("pthread_create");
	receive_byte(up[0]);
	if ((errno = pthread_create(&waiter_thread, NULL, waiter, report)) != 0)
		die("pthread_create");
	pthread_join(waiter_thread, &result);
	send_byte(down[1], 'g');
	pthread_join(owner_thread, NULL);
	return result == NULL ? 0 : 1;
}
