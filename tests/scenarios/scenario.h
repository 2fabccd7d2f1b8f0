/* Helpers shared by the scenario programs. Each scenario does one thing and
 * synchronises on kernel state (/proc/locks, a futex word, a pipe) rather than
 * on sleeps, so a slow machine changes only how long it takes, never what the
 * tracer sees. A scenario exits non-zero, with a line on stderr, when the world
 * did not behave as it expects: the test then fails on the exit status. */
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Long enough for any loaded machine, short enough that a broken scenario
 * fails well within the test's own timeout. */
#define SCENARIO_PATIENCE_MS 20000

static inline void scenario_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "scenario: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (errno)
		fprintf(stderr, ": %s", strerror(errno));
	fputc('\n', stderr);
	_exit(100);
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* argv[index] as milliseconds, or the default when absent. */
static inline long arg_ms(int argc, char **argv, int index, long fallback)
{
	return argc > index ? strtol(argv[index], NULL, 10) : fallback;
}

/* Waits until some task is queued behind a file lock on the inode behind fd:
 * /proc/locks shows waiters as "N: -> KIND ... MAJ:MIN:INODE ...". */
static inline void wait_until_lock_has_waiter(int fd)
{
	struct stat st;
	char needle[32], line[256];

	if (fstat(fd, &st) != 0)
		scenario_die("fstat");
	snprintf(needle, sizeof needle, ":%llu ", (unsigned long long)st.st_ino);
	for (int waited = 0; waited < SCENARIO_PATIENCE_MS; waited++) {
		FILE *locks = fopen("/proc/locks", "r");
		int found = 0;

		if (!locks)
			scenario_die("open /proc/locks");
		while (!found && fgets(line, sizeof line, locks))
			found = strstr(line, "->") && strstr(line, needle);
		fclose(locks);
		if (found)
			return;
		sleep_ms(1);
	}
	errno = 0;
	scenario_die("nobody queued behind the lock on inode %llu", (unsigned long long)st.st_ino);
}

#include <sys/wait.h>

/* Reaps a child that should have exited 0. */
static inline void reap_ok(pid_t pid, const char *what)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			scenario_die("waitpid %s", what);
	errno = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		scenario_die("%s ended with wait status %#x", what, status);
}

/* Whether a thread of this process sleeps in the kernel ("S" or "D" in
 * /proc/self/task/TID/stat). */
static inline int thread_is_sleeping(pid_t tid)
{
	char path[64], stat[512];
	FILE *file;
	size_t n;

	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	file = fopen(path, "r");
	if (!file)
		scenario_die("open %s", path);
	n = fread(stat, 1, sizeof stat - 1, file);
	fclose(file);
	stat[n] = '\0';
	/* "TID (COMM) STATE ...": COMM may hold anything, so look after its last ')'. */
	char *end = strrchr(stat, ')');
	return end && end[1] == ' ' && (end[2] == 'S' || end[2] == 'D');
}
