/* main.c - runs every TEST in its own child and prints "ok"/"not ok". */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

int unit_failures;

#undef TEST
#define TEST(name) void test_##name(void);
#include "list.h"
#undef TEST
#define TEST(name) { #name, test_##name },
static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
#include "list.h"
};

int
main(int argc, char *argv[])
{
	size_t i;
	int failed = 0, status;
	pid_t pid;

	for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		if (argc > 1 && strstr(tests[i].name, argv[1]) == NULL)
			continue;
		fflush(stdout);
		if ((pid = fork()) < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			tests[i].fn();
			fflush(stdout);
			_exit(unit_failures ? 1 : 0);
		}
		if (waitpid(pid, &status, 0) < 0) {
			perror("waitpid");
			return 1;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("ok %s\n", tests[i].name);
		} else {
			if (WIFSIGNALED(status))
				printf("# killed by signal %d\n",
				    WTERMSIG(status));
			printf("not ok %s\n", tests[i].name);
			failed++;
		}
	}
	return failed ? 1 : 0;
}
