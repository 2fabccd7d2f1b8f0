/* Helpers for the explanation scenarios: each program makes one lock call fail
 * (or end) for a known reason, synchronising on pipes and on the kernel's view
 * of a task (/proc/PID/syscall and state) rather than on sleeps, and writes
 * what it saw as "name=value" lines to a report file the test reads. */
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
#include <time.h>
#include <unistd.h>

/* Only a broken scenario waits this long: it then fails well within the test's timeout. */
#define EXPLAIN_PATIENCE_MS 20000

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

static inline void send_byte(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		die("write pipe");
}

static inline char receive_byte(int fd)
{
	char c = 0;
	ssize_t n;

	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		die("read pipe");
	return c;
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
		if (waited > EXPLAIN_PATIENCE_MS)
			die("no thread of pid %d ever slept in syscall %ld", (int)pid, nr);
		sleep_ms(1);
	}
	return tid;
}

static inline FILE *open_report(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die("open %s", path);
	setvbuf(f, NULL, _IOLBF, 0);
	return f;
}
