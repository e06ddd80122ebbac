#include "workers.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "defaults.h"
#include "log.h"
#include "xmalloc.h"

size_t workers_count(const struct config *cfg) {
    if (cfg->workers > 0)
        return cfg->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > WORKERS_MAX ? WORKERS_MAX : (size_t)n;
}

static unsigned long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

/* Binds port 0 of the listen address with SO_REUSEPORT and keeps the socket (not listening:
 * it takes no connection), so that the workers share the port the kernel picked. */
static int reserve_port(struct config *cfg) {
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_ADDRCONFIG};
    struct addrinfo *ai = NULL;
    const char *host = cfg->listen_host && *cfg->listen_host ? cfg->listen_host : NULL;
    if (getaddrinfo(host, "0", &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    cfg->listen_port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                                      : ((struct sockaddr_in *)&sa)->sin_port);
    return fd;
}

struct supervisor {
    struct config *cfg;
    workers_run_fn *run;
    void *arg;
    size_t n;
    struct metrics_slot *board;
    pid_t *pids;                    /* 0: not running */
    unsigned long long *started_ms; /* when each was forked */
    unsigned long long *restart_ms; /* when a dead one is forked again */
    sigset_t mask;                  /* the signals it waits for; unblocked in workers */
    int hold;                       /* the reserved port's socket, or -1 */
};

static void spawn(struct supervisor *s, size_t i) {
    memset(&s->board[i], 0, sizeof(s->board[i]));
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        log_error("workers: cannot start worker %zu: %s; trying again in a second", i + 1,
                  strerror(errno));
        s->restart_ms[i] = now_ms() + 1000;
        return;
    }
    if (pid == 0) {
        /* A supervisor killed outright (SIGKILL) takes its workers with it: none is left
         * holding the port. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            exit(1); /* it died before the line above (it may be pid 1, in a container) */
        sigprocmask(SIG_UNBLOCK, &s->mask, NULL);
        if (s->hold >= 0)
            close(s->hold);
        s->cfg->worker = (int)i + 1;
        exit(s->run(s->cfg, s->board, s->n, s->arg));
    }
    s->pids[i] = pid;
    s->started_ms[i] = now_ms();
}

static void signal_all(const struct supervisor *s, int sig) {
    for (size_t i = 0; i < s->n; i++) {
        if (s->pids[i] > 0)
            kill(s->pids[i], sig);
    }
}

/* Reaps the workers that ended; returns how many are still running. */
static size_t reap(struct supervisor *s, bool stopping, int *status) {
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (size_t i = 0; i < s->n; i++) {
            if (s->pids[i] != pid)
                continue;
            s->pids[i] = 0;
            int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            if (stopping) {
                if (code != 0 && *status == 0)
                    *status = code;
                break;
            }
            /* One that dies at once would die again at once: not more than once a second. */
            bool quick = now_ms() - s->started_ms[i] < 1000;
            s->restart_ms[i] = now_ms() + (quick ? 1000 : 0);
            if (WIFSIGNALED(st))
                log_warn("workers: worker %zu (pid %d) was killed by signal %d; restarting it",
                         i + 1, (int)pid, WTERMSIG(st));
            else
                log_warn("workers: worker %zu (pid %d) exited with status %d; restarting it", i + 1,
                         (int)pid, code);
        }
    }
    size_t alive = 0;
    for (size_t i = 0; i < s->n; i++)
        alive += s->pids[i] > 0;
    return alive;
}

int workers_run(struct config *cfg, workers_run_fn *run, void *arg) {
    size_t n = workers_count(cfg);
    if (n == 1)
        return run(cfg, NULL, 0, arg);
    struct supervisor s = {cfg, run, arg, n, NULL, NULL, NULL, NULL, {{0}}, -1};
    cfg->reuse_port = true;
    if (cfg->listen_port == 0 && (s.hold = reserve_port(cfg)) < 0) {
        log_error("workers: cannot reserve a port on %s: %s", cfg->listen_host, strerror(errno));
        return 1;
    }
    s.board =
        mmap(NULL, n * sizeof(*s.board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s.board == MAP_FAILED) {
        log_error("workers: cannot map the shared metrics: %s", strerror(errno));
        return 1;
    }
    s.pids = xcalloc(n, sizeof(*s.pids));
    s.started_ms = xcalloc(n, sizeof(*s.started_ms));
    s.restart_ms = xcalloc(n, sizeof(*s.restart_ms));
    sigemptyset(&s.mask);
    sigaddset(&s.mask, SIGCHLD);
    sigaddset(&s.mask, SIGTERM);
    sigaddset(&s.mask, SIGINT);
    sigprocmask(SIG_BLOCK, &s.mask, NULL);
    log_info("workers: starting %zu processes on port %d", n, cfg->listen_port);
    for (size_t i = 0; i < n; i++)
        spawn(&s, i);
    bool stopping = false;
    int status = 0;
    for (;;) {
        struct timespec wait = {0, 250 * 1000 * 1000};
        int sig = sigtimedwait(&s.mask, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            /* A second signal is passed on too: the workers exit at once then. */
            if (!stopping)
                log_info("workers: %s received; draining %zu workers",
                         sig == SIGTERM ? "SIGTERM" : "SIGINT", n);
            stopping = true;
            signal_all(&s, sig);
        }
        size_t alive = reap(&s, stopping, &status);
        if (stopping && alive == 0)
            break;
        for (size_t i = 0; i < n && !stopping; i++) {
            if (s.pids[i] == 0 && now_ms() >= s.restart_ms[i])
                spawn(&s, i);
        }
    }
    log_info("workers: all %zu stopped", n);
    munmap(s.board, n * sizeof(*s.board));
    if (s.hold >= 0)
        close(s.hold);
    free(s.pids);
    free(s.started_ms);
    free(s.restart_ms);
    return status;
}
