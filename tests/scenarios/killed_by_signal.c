/* killed_by_signal [SIGNUM]
 * Kills itself with SIGNUM (default SIGKILL). */
#include "scenario.h"

#include <signal.h>

int main(int argc, char **argv)
{
	int sig = argc > 1 ? atoi(argv[1]) : SIGKILL;

	raise(sig);
	errno = 0;
	die("still alive after signal %d", sig);
}
