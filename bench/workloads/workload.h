/*
 * What every benchmark workload shares: a monotonic clock, argument parsing and
 * the one result line the runner parses.
 *
 *   ops=N elapsed_ns=T lock_calls=C sleeps=S expected_events=E estimated=0|1 cpu_ns=U maxrss_kb=R
 *
 * lock_calls counts the flock/fcntl-lock/futex syscalls the workload made (exact
 * where it makes them itself, estimated where glibc makes them: estimated=1).
 * sleeps counts voluntary context switches inside those calls. expected_events is
 * what locktrace should report for the run: one record per call, one more per call
 * that slept, and three lifecycle records per task (fork or exec, exit syscall,
 * task exit). cpu_ns and maxrss_kb are the workload's own (and its reaped
 * children's), so the runner can subtract them from the tracer's rusage.
 *
 * The line goes to stdout, or, when BENCH_RESULT_FILE is set, is appended to that
 * file instead: under `locktrace live` stdout is the tracer's, and a line written
 * into the middle of its buffered JSON would break both.
 */
#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct workload_result {
	uint64_t ops;
	uint64_t elapsed_ns;
	uint64_t lock_calls;
	uint64_t sleeps;
	uint64_t tasks; /* threads and processes, the first one included */
	int estimated;
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Voluntary context switches of the calling thread so far. */
static inline uint64_t thread_sleeps(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (uint64_t)ru.ru_nvcsw;
}

static inline void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(2);
}

static inline uint64_t parse_arg(int argc, char **argv, int index, uint64_t fallback)
{
	char *end;
	unsigned long long value;

	if (index >= argc)
		return fallback;
	errno = 0;
	value = strtoull(argv[index], &end, 10);
	if (errno || *end || value == 0) {
		fprintf(stderr, "%s: argument %d must be a positive integer, not '%s'\n", argv[0],
			index, argv[index]);
		exit(2);
	}
	return value;
}

static inline uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

static inline void report(const struct workload_result *r)
{
	struct rusage self, children;
	uint64_t expected = r->lock_calls + r->sleeps + 3 * r->tasks;
	uint64_t cpu;
	long maxrss;
	char line[256];
	const char *path = getenv("BENCH_RESULT_FILE");

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &children);
	cpu = tv_ns(self.ru_utime) + tv_ns(self.ru_stime) + tv_ns(children.ru_utime) +
	      tv_ns(children.ru_stime);
	maxrss = self.ru_maxrss > children.ru_maxrss ? self.ru_maxrss : children.ru_maxrss;
	snprintf(line, sizeof(line),
		 "ops=%llu elapsed_ns=%llu lock_calls=%llu sleeps=%llu expected_events=%llu "
		 "estimated=%d cpu_ns=%llu maxrss_kb=%ld\n",
		 (unsigned long long)r->ops, (unsigned long long)r->elapsed_ns,
		 (unsigned long long)r->lock_calls, (unsigned long long)r->sleeps,
		 (unsigned long long)expected, r->estimated, (unsigned long long)cpu, maxrss);
	if (path && *path) {
		FILE *f = fopen(path, "a");

		if (!f)
			die(path);
		fputs(line, f);
		fclose(f);
	} else {
		fputs(line, stdout);
		fflush(stdout);
	}
}

#endif /* BENCH_WORKLOAD_H */
