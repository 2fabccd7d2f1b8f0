/* thread_exit
 * A second thread leaves through pthread_exit (the exit syscall, not
 * exit_group); the main thread joins it and the process exits 0. */
#include "scenario.h"

#include <pthread.h>

static void *leaver(void *unused)
{
	(void)unused;
	pthread_exit(NULL);
}

int main(void)
{
	pthread_t thread;

	if ((errno = pthread_create(&thread, NULL, leaver, NULL)) != 0)
		die("pthread_create");
	pthread_join(thread, NULL);
	return 0;
}
