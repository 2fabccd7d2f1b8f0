/*
 * mixed OPS: mostly not locking. Each op writes a byte into a pipe and reads it
 * back; every 1000th op also takes and drops a flock on a temporary file. It shows
 * what tracing costs a process's other syscalls, and, run untraced beside a traced
 * workload, what it costs the rest of the machine.
 */
#include "workload.h"

#include <sys/file.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	uint64_t ops = parse_arg(argc, argv, 1, 2000000);
	struct workload_result r = { .ops = ops, .tasks = 1 };
	char path[] = "/tmp/locktrace-bench-mixed-XXXXXX";
	int fd = mkstemp(path);
	int pipefd[2];
	char byte = 'x';
	uint64_t start;

	if (fd < 0)
		die("mkstemp");
	unlink(path);
	if (pipe(pipefd))
		die("pipe");
	start = now_ns();
	for (uint64_t i = 0; i < ops; i++) {
		if (write(pipefd[1], &byte, 1) != 1 || read(pipefd[0], &byte, 1) != 1)
			die("pipe");
		if (i % 1000 == 999) {
			if (flock(fd, LOCK_EX) || flock(fd, LOCK_UN))
				die("flock");
			r.lock_calls += 2;
		}
	}
	r.elapsed_ns = now_ns() - start;
	report(&r);
	return 0;
}
