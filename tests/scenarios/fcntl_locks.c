/* fcntl_locks FILE posix|ofd [HOLD_MS]
 * The parent takes a write lock on all of FILE (F_SETLKW, or F_OFD_SETLKW for
 * "ofd") and forks a child that opens FILE itself and
 *   1. asks for a write lock with F_SETLK (F_OFD_SETLK): must fail, EAGAIN;
 *   2. asks again with F_SETLKW (F_OFD_SETLKW): blocks until the parent, once
 *      it sees the child queued and has held on for HOLD_MS (default 300),
 *      unlocks.
 * Both exit 0. */
#include "scenario.h"

#include <fcntl.h>

static int set_lock(int fd, int cmd, short type)
{
	struct flock lock;

	memset(&lock, 0, sizeof lock); /* whole file; l_pid must be 0 for OFD */
	lock.l_type = type;
	lock.l_whence = SEEK_SET;
	return fcntl(fd, cmd, &lock);
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[2], "posix") != 0 && strcmp(argv[2], "ofd") != 0)) {
		fprintf(stderr, "usage: fcntl_locks FILE posix|ofd [HOLD_MS]\n");
		return 2;
	}
	int ofd = strcmp(argv[2], "ofd") == 0;
	int setlk = ofd ? F_OFD_SETLK : F_SETLK;
	int setlkw = ofd ? F_OFD_SETLKW : F_SETLKW;

	int fd = open(argv[1], O_RDWR | O_CREAT, 0600);
	if (fd < 0 || set_lock(fd, setlkw, F_WRLCK) != 0)
		die("lock %s", argv[1]);

	pid_t waiter = fork();
	if (waiter < 0)
		die("fork");
	if (waiter == 0) {
		int own = open(argv[1], O_RDWR);
		if (own < 0)
			die("waiter: open %s", argv[1]);
		if (set_lock(own, setlk, F_WRLCK) == 0 || errno != EAGAIN)
			die("waiter: non-blocking lock did not fail with EAGAIN");
		if (set_lock(own, setlkw, F_WRLCK) != 0)
			die("waiter: blocking lock");
		set_lock(own, setlk, F_UNLCK);
		_exit(0);
	}
	wait_until_lock_has_waiter(fd);
	sleep_ms(arg_ms(argc, argv, 3, 300));
	if (set_lock(fd, setlk, F_UNLCK) != 0)
		die("unlock");
	reap_ok(waiter, "waiter");
	return 0;
}
