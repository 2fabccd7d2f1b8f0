/* flock_contention FILE [HOLD_MS]
 * The parent takes flock(LOCK_EX) on FILE, forks a child whose flock(LOCK_EX)
 * on its own open of FILE blocks, waits until the child is queued, holds on for
 * HOLD_MS (default 300), then unlocks. Both exit 0. */
#include "scenario.h"

#include <fcntl.h>
#include <sys/file.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: flock_contention FILE [HOLD_MS]\n");
		return 2;
	}
	int fd = open(argv[1], O_RDWR | O_CREAT, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) != 0)
		die("lock %s", argv[1]);

	pid_t waiter = fork();
	if (waiter < 0)
		die("fork");
	if (waiter == 0) {
		/* A fresh open: the inherited fd shares the parent's lock. */
		int own = open(argv[1], O_RDWR);
		if (own < 0 || flock(own, LOCK_EX) != 0)
			die("waiter: lock %s", argv[1]);
		flock(own, LOCK_UN);
		_exit(0);
	}
	wait_until_lock_has_waiter(fd);
	sleep_ms(arg_ms(argc, argv, 2, 300));
	if (flock(fd, LOCK_UN) != 0)
		die("unlock");
	reap_ok(waiter, "waiter");
	return 0;
}
