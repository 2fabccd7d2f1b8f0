/* Helpers for the scenario programs the tests run. Each scenario does one thing
 * and synchronises on kernel state (/proc/PID/syscall and a task's state, a
 * futex word, /proc/locks, a pipe) rather than on sleeps, so a slow machine
 * changes only how long it takes, never what the tracer sees. A scenario exits
 * non-zero, with a line on stderr, when the world did not behave as expected:
 * the test then fails on the exit status. */
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Long enough for a loaded machine, short enough to fail inside the test's timeout. */
#define PATIENCE_MS 20000

static inline void die(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	fprintf(stderr, "scenario: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (saved)
		fprintf(stderr, ": %s", strerror(saved));
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

/* One byte over a pipe, to order steps between processes. */
static inline void send_byte(int fd, char c)
{
	while (write(fd, &c, 1) != 1)
		if (errno != EINTR)
			die("write to pipe");
}

static inline char receive_byte(int fd)
{
	char c = 0;
	ssize_t n;

	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		die("read from pipe (got %zd)", n);
	return c;
}

/* Polls `ready(arg)` every millisecond until it holds; dies saying `what` after PATIENCE_MS. */
static inline void wait_until(int (*ready)(void *), void *arg, const char *what)
{
	for (int waited = 0; !ready(arg); waited++) {
		if (waited == PATIENCE_MS) {
			errno = 0;
			die("timed out waiting until %s", what);
		}
		sleep_ms(1);
	}
}

/* Whether thread `tid` of this process sleeps in the kernel (state S or D). */
static inline int thread_sleeps(pid_t tid)
{
	char path[64], stat[512];
	FILE *file;
	size_t n;
	char *end;

	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	file = fopen(path, "r");
	if (!file)
		die("open %s", path);
	n = fread(stat, 1, sizeof stat - 1, file);
	fclose(file);
	stat[n] = '\0';
	/* "TID (COMM) STATE ...": COMM may hold anything, so look after the last ')'. */
	end = strrchr(stat, ')');
	return end && end[1] == ' ' && (end[2] == 'S' || end[2] == 'D');
}

/* Whether the task whose /proc directory is `dir` sleeps inside syscall `nr`
 * now: its syscall file names the call only while the task is blocked in it,
 * and its state says it sleeps. */
static inline int task_sleeps_in(const char *dir, long nr)
{
	char path[352], buf[256];
	FILE *f;
	long current = -1;
	char state = '?';
	char *paren;

	snprintf(path, sizeof path, "%s/syscall", dir);
	if (!(f = fopen(path, "r")))
		return 0;
	if (fscanf(f, "%ld", &current) != 1)
		current = -1;
	fclose(f);
	snprintf(path, sizeof path, "%s/stat", dir);
	if (!(f = fopen(path, "r")))
		return 0;
	if (fgets(buf, sizeof buf, f) && (paren = strrchr(buf, ')')) && paren[1] == ' ')
		state = paren[2];
	fclose(f);
	return current == nr && state == 'S';
}

/* The thread of process `pid` that sleeps inside syscall `nr`, or 0. */
static inline pid_t thread_sleeping_in(pid_t pid, long nr)
{
	char dir[64], task[320];
	struct dirent *entry;
	DIR *d;
	pid_t found = 0;

	snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
	if (!(d = opendir(dir)))
		return 0;
	while (!found && (entry = readdir(d))) {
		if (entry->d_name[0] == '.')
			continue;
		snprintf(task, sizeof task, "%s/%s", dir, entry->d_name);
		if (task_sleeps_in(task, nr))
			found = (pid_t)atoi(entry->d_name);
	}
	closedir(d);
	return found;
}

/* Waits until a thread of `pid` sleeps in syscall `nr`: that thread's id. */
static inline pid_t wait_until_sleeping_in(pid_t pid, long nr)
{
	pid_t tid;

	for (long waited = 0; !(tid = thread_sleeping_in(pid, nr)); waited++) {
		if (waited > PATIENCE_MS)
			die("no thread of pid %d ever slept in syscall %ld", (int)pid, nr);
		sleep_ms(1);
	}
	return tid;
}

/* Waits until some task is queued behind a file lock on the inode behind fd:
 * /proc/locks shows waiters as "N: -> KIND ... MAJ:MIN:INODE ...". */
static inline void wait_until_lock_has_waiter(int fd)
{
	struct stat st;
	char needle[32], line[256];

	if (fstat(fd, &st) != 0)
		die("fstat");
	snprintf(needle, sizeof needle, ":%llu ", (unsigned long long)st.st_ino);
	for (int waited = 0; waited < PATIENCE_MS; waited++) {
		FILE *locks = fopen("/proc/locks", "r");
		int found = 0;

		if (!locks)
			die("open /proc/locks");
		while (!found && fgets(line, sizeof line, locks))
			found = strstr(line, "->") && strstr(line, needle);
		fclose(locks);
		if (found)
			return;
		sleep_ms(1);
	}
	errno = 0;
	die("nobody queued behind the lock on inode %llu", (unsigned long long)st.st_ino);
}

/* Reaps `pid`; returns its wait status. */
static inline int reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid %d", pid);
	return status;
}

/* Reaps a child that should have exited 0. */
static inline void reap_ok(pid_t pid, const char *what)
{
	int status = reap(pid);

	errno = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("%s ended with wait status %#x", what, status);
}

/* A file the scenario writes "name=value" lines to, for the test to read. */
static inline FILE *open_report(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die("open %s", path);
	setvbuf(f, NULL, _IOLBF, 0);
	return f;
}
