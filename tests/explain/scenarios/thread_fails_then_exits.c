/* thread_fails_then_exits FILE
 * A worker thread asks for an exclusive flock(2) on FILE without blocking and,
 * refused, ends the whole process with exit(3) (exit_group) while the main
 * thread sleeps in pause(). Exits 0 should the lock be free. */
#include "scenario.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>

static const char *path;

static void *worker(void *arg)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	(void)arg;
	if (fd < 0)
		die("open %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		exit(3);
	exit(0);
}

int main(int argc, char **argv)
{
	pthread_t thread;

	if (argc != 2) {
		fprintf(stderr, "usage: thread_fails_then_exits FILE\n");
		return 2;
	}
	path = argv[1];
	if ((errno = pthread_create(&thread, NULL, worker, NULL)) != 0)
		die("pthread_create");
	for (;;)
		pause();
}
