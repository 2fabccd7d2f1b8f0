// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reference_tracer -o FILE -- CMD [ARGS...]
 *
 * Launches CMD, traces its flock, fcntl and futex calls (and its children's) with
 * reference_tracer.bpf.c, fwrite()s every 40-byte record to FILE, and exits with
 * CMD's status once CMD has exited and the ring buffer is drained. On stderr:
 * "reference: N events, M lost".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "reference_tracer.h"
#include "reference_tracer.skel.h"

static unsigned long long event_count;
static volatile sig_atomic_t pending_signal;

static int write_event(void *ctx, void *data, size_t size)
{
	FILE *out = ctx;

	event_count++;
	return fwrite(data, size, 1, out) == 1 ? 0 : -EIO;
}

static void on_signal(int sig)
{
	pending_signal = sig;
}

/* The child waits on `go` until its pid is in the filter, so its exec is traced. */
static pid_t launch(char **argv, int *go_write)
{
	int go[2];
	char byte;
	pid_t pid;

	if (pipe2(go, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &byte, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "reference_tracer: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(go[0]);
	*go_write = go[1];
	return pid;
}

int main(int argc, char **argv)
{
	struct reference_tracer_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	const char *output = NULL;
	FILE *out = NULL;
	static char out_buffer[1 << 20];
	int opt, go = -1, status = 0, exit_code = 1;
	pid_t child = -1;
	__u32 key;
	__u8 one = 1;

	while ((opt = getopt(argc, argv, "+o:")) != -1) {
		if (opt != 'o')
			goto usage;
		output = optarg;
	}
	if (!output || optind >= argc)
		goto usage;

	out = fopen(output, "w");
	if (!out) {
		fprintf(stderr, "reference_tracer: %s: %s\n", output, strerror(errno));
		return 1;
	}
	setvbuf(out, out_buffer, _IOFBF, sizeof(out_buffer));
	skel = reference_tracer_bpf__open_and_load();
	if (!skel || reference_tracer_bpf__attach(skel)) {
		fprintf(stderr, "reference_tracer: cannot load or attach the BPF programs\n");
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), write_event, out, NULL);
	if (!rb) {
		fprintf(stderr, "reference_tracer: cannot open the ring buffer\n");
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	child = launch(argv + optind, &go);
	if (child < 0) {
		fprintf(stderr, "reference_tracer: fork: %s\n", strerror(errno));
		goto out;
	}
	key = child;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.pids), &key, &one, BPF_ANY)) {
		fprintf(stderr, "reference_tracer: cannot add pid %d to the filter\n", child);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		goto out;
	}
	if (write(go, &one, 1) != 1)
		perror("reference_tracer: starting the command");
	close(go);

	/* Records arrive without wake-ups: poll on a timer, drain every time. */
	for (;;) {
		pid_t done;

		if (pending_signal) {
			kill(child, pending_signal);
			pending_signal = 0;
		}
		ring_buffer__poll(rb, 50);
		ring_buffer__consume(rb);
		done = waitpid(child, &status, WNOHANG);
		if (done == child || (done < 0 && errno != EINTR))
			break;
	}
	ring_buffer__consume(rb);
	exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	fprintf(stderr, "reference: %llu events, %llu lost\n", event_count,
		(unsigned long long)skel->bss->dropped);
out:
	ring_buffer__free(rb);
	reference_tracer_bpf__destroy(skel);
	if (out && fclose(out)) {
		fprintf(stderr, "reference_tracer: %s: %s\n", output, strerror(errno));
		exit_code = 1;
	}
	return exit_code;
usage:
	fprintf(stderr, "usage: reference_tracer -o FILE -- CMD [ARGS...]\n");
	return 2;
}
