/* Runs one table row in a child process, so a row that crashes, trips a sanitizer or hangs the
 * code under test is reported as that row's failure instead of ending the test (and hiding
 * every row after it). The child's check counts are sent back over a pipe and added to the
 * parent's (check.h), so a forked row counts exactly as it would in-process. Header-only,
 * like check.h. */
#ifndef FORKED_H
#define FORKED_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Runs fn(arg) in a child with an alarm of `seconds`; the child's checks are added to ours,
 * and a child that dies (signal, sanitizer report, timeout) counts as one failure, reported
 * with `what` to name the row. */
static inline void forked_run(const char *what, void (*fn)(const void *), const void *arg,
                              unsigned seconds) {
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(2);
    }
    fflush(stderr); /* or the child would print our buffered output again */
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        close(fds[0]);
        alarm(seconds);
        check_count = check_failures = 0;
        fn(arg);
        int counts[2] = {check_count, check_failures};
        if (write(fds[1], counts, sizeof(counts)) != (ssize_t)sizeof(counts))
            _exit(3);
        _exit(0);
    }
    close(fds[1]);
    int counts[2], status;
    ssize_t got = read(fds[0], counts, sizeof(counts));
    close(fds[0]);
    waitpid(pid, &status, 0);
    if (got == (ssize_t)sizeof(counts) && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        check_count += counts[0];
        check_failures += counts[1];
        return;
    }
    check_count++;
    check_failures++;
    if (WIFSIGNALED(status))
        fprintf(stderr, "%s: child killed by signal %d%s\n", what, WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (timed out)" : "");
    else
        fprintf(stderr, "%s: child exited with %d before reporting\n", what,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

#endif
