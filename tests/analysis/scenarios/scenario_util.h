/* Helpers for the analyzer's scenario programs. Each program synchronises on
 * kernel state (a futex word, a task's /proc state and syscall) rather than
 * on sleeps, so a slow machine changes how long it takes, never what happens.
 * A program that sees the world misbehave prints why and exits 100. */
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

/* Whether process `pid` sleeps (state S or D) inside syscall number `nr`, per
 * /proc/PID/stat and /proc/PID/syscall. Unlike reading /proc/locks, which takes
 * the kernel's file_rwsem for writing, this never delays a file-lock call. */
static inline int sleeps_in_syscall(pid_t pid, long nr)
{
	char path[64], text[512];
	FILE *file;
	size_t n;
	char *end;

	snprintf(path, sizeof path, "/proc/%d/syscall", pid);
	file = fopen(path, "r");
	if (!file)
		die("open %s", path);
	n = fread(text, 1, sizeof text - 1, file);
	fclose(file);
	text[n] = '\0';
	if (strtol(text, &end, 10) != nr || end == text)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	file = fopen(path, "r");
	if (!file)
		die("open %s", path);
	n = fread(text, 1, sizeof text - 1, file);
	fclose(file);
	text[n] = '\0';
	end = strrchr(text, ')');
	return end && end[1] == ' ' && (end[2] == 'S' || end[2] == 'D');
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
	char c;
	ssize_t n;

	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		die("read from pipe (got %zd)", n);
	return c;
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
