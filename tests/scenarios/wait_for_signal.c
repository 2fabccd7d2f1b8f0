/* wait_for_signal FILE [THREADS]
 * For attaching to a process that already runs. Starts THREADS threads
 * (default 1, the main thread included); once all run, prints one line,
 * "PID TID0 TID1 ...", and then each thread, every 100 ms, takes and drops
 * flock(LOCK_EX) on FILE and issues a FUTEX_WAKE, until SIGTERM. Exits 0. */
#include "scenario.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/syscall.h>

#define MAX_THREADS 16

static volatile sig_atomic_t stopping;
static pthread_barrier_t started;
static pid_t tids[MAX_THREADS];
static int lock_fd;
static int futex_word;

static void on_sigterm(int sig)
{
	(void)sig;
	stopping = 1;
}

static void lock_until_stopped(void)
{
	while (!stopping) {
		/* All threads share one open file description: they never block each other. */
		flock(lock_fd, LOCK_EX);
		flock(lock_fd, LOCK_UN);
		syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		sleep_ms(100);
	}
}

static void *work(void *slot)
{
	tids[(long)slot] = gettid();
	pthread_barrier_wait(&started);
	lock_until_stopped();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: wait_for_signal FILE [THREADS]\n");
		return 2;
	}
	long threads = argc > 2 ? strtol(argv[2], NULL, 10) : 1;
	if (threads < 1 || threads > MAX_THREADS) {
		errno = 0;
		die("THREADS must be 1..%d", MAX_THREADS);
	}

	/* No SA_RESTART: SIGTERM cuts the sleep short. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigterm;
	sigaction(SIGTERM, &sa, NULL);

	lock_fd = open(argv[1], O_RDWR | O_CREAT, 0600);
	if (lock_fd < 0)
		die("open %s", argv[1]);
	pthread_barrier_init(&started, NULL, (unsigned)threads);
	pthread_t handles[MAX_THREADS];
	for (long i = 1; i < threads; i++)
		if ((errno = pthread_create(&handles[i], NULL, work, (void *)i)) != 0)
			die("pthread_create");
	tids[0] = gettid();
	pthread_barrier_wait(&started);

	printf("%d", getpid());
	for (long i = 0; i < threads; i++)
		printf(" %d", tids[i]);
	printf("\n");
	fflush(stdout);

	lock_until_stopped();
	for (long i = 1; i < threads; i++)
		pthread_join(handles[i], NULL);
	return 0;
}
