#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "log.h"
#include "xmalloc.h"

/* How long accepting pauses at the file limit, and how many queued connections each pause
 * accepts and closes at once (they get a reset instead of waiting in the queue). */
#define LISTENER_PAUSE_MS 100
#define LISTENER_SHED_PER_PAUSE 16
#define LISTENER_QUIET_MS 1000 /* no refusal this long: the episode is over */

struct deadline {
    int fd;
    ino_t ino;
    unsigned long long at_ms;
};

struct listener {
    struct event_base *base;
    struct evhttp *evhttp;
    const struct config *cfg;
    struct metrics *metrics;
    struct evconnlistener *lev;
    struct evhttp_bound_socket *bound;
    int port;
    int spare_fd; /* /dev/null, given up at EMFILE to accept-and-close one connection */

    /* Connections accepted this loop turn, their descriptors not known yet (evhttp sets them
     * after making the bufferevent); adopted by adopt_ev at the end of the turn. */
    struct bufferevent **fresh;
    size_t nfresh, fresh_cap;
    struct event *adopt_ev;

    /* Pending connections: the inode of the socket at each descriptor (0: none), and their
     * deadlines in accept order (one timeout for all, so the queue is sorted). */
    ino_t *inodes;
    size_t ninodes;
    struct deadline *queue;
    size_t qhead, qlen, qcap;
    size_t pending;
    struct event *deadline_ev;

    bool at_file_limit; /* an episode is going on: logged at its start and its end */
    unsigned long long refused_in_episode, last_refusal_ms;
    struct event *resume_ev;
};

/* libevent calls a listener's error callback with its accept callback's argument, which is
 * evhttp's own: the one thing that leads back from the evconnlistener to its struct listener
 * is this table (a process has one listener; a few slots for tests that make more). */
#define LISTENER_SLOTS 8
static struct {
    struct evconnlistener *lev;
    struct listener *l;
} registry[LISTENER_SLOTS];

static void registry_set(struct evconnlistener *lev, struct listener *l) {
    for (size_t i = 0; i < LISTENER_SLOTS; i++) {
        if (registry[i].lev == (l ? NULL : lev)) {
            registry[i].lev = l ? lev : NULL;
            registry[i].l = l;
            return;
        }
    }
}

static struct listener *registry_get(struct evconnlistener *lev) {
    for (size_t i = 0; i < LISTENER_SLOTS; i++) {
        if (registry[i].lev == lev)
            return registry[i].l;
    }
    return NULL;
}

static unsigned long long now_ms(struct listener *l) {
    struct timeval tv;
    event_base_gettimeofday_cached(l->base, &tv);
    return (unsigned long long)tv.tv_sec * 1000 + (unsigned long long)tv.tv_usec / 1000;
}

static void arm_deadline(struct listener *l) {
    if (l->qlen == 0 || event_pending(l->deadline_ev, EV_TIMEOUT, NULL))
        return;
    unsigned long long at = l->queue[l->qhead].at_ms, now = now_ms(l);
    unsigned long long wait = at > now ? at - now : 0;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    event_add(l->deadline_ev, &tv);
}

static ino_t inode_of(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_ino : 0;
}

static void forget(struct listener *l, int fd) {
    if ((size_t)fd < l->ninodes && l->inodes[fd] != 0) {
        l->inodes[fd] = 0;
        l->pending--;
    }
}

static void queue_push(struct listener *l, struct deadline d) {
    if (l->qlen == l->qcap) {
        size_t cap = l->qcap ? l->qcap * 2 : 64;
        struct deadline *q = xmalloc(cap * sizeof(*q));
        for (size_t i = 0; i < l->qlen; i++)
            q[i] = l->queue[(l->qhead + i) % l->qcap];
        free(l->queue);
        l->queue = q;
        l->qcap = cap;
        l->qhead = 0;
    }
    l->queue[(l->qhead + l->qlen++) % l->qcap] = d;
}

/* The end of a turn in which connections were accepted: their descriptors are set now. */
static void on_adopt(evutil_socket_t unused, short what, void *arg) {
    struct listener *l = arg;
    (void)unused, (void)what;
    /* An episode ends with an accept a while after the last refusal (accepts between two
     * refusals are the room the refusals made). */
    if (l->at_file_limit && l->nfresh > 0 && now_ms(l) > l->last_refusal_ms + LISTENER_QUIET_MS) {
        log_info("http: accepting again; %llu connection(s) refused at the file limit",
                 l->refused_in_episode);
        l->at_file_limit = false;
        l->refused_in_episode = 0;
    }
    for (size_t i = 0; i < l->nfresh; i++) {
        int fd = bufferevent_getfd(l->fresh[i]);
        ino_t ino = fd >= 0 ? inode_of(fd) : 0;
        if (ino == 0)
            continue;
        if (l->cfg->client_socket_buffer > 0) {
            int size = (int)l->cfg->client_socket_buffer;
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        }
        if (l->cfg->request_timeout_ms == 0)
            continue;
        forget(l, fd); /* a connection that had this number closed before its deadline */
        if (l->pending >= l->cfg->max_pending_connections) {
            /* Over the limit of connections without a request: closed at once; evhttp sees
             * the end of the stream and frees its side. */
            shutdown(fd, SHUT_RDWR);
            l->metrics->connections_shed++;
            continue;
        }
        if ((size_t)fd >= l->ninodes) {
            size_t n = l->ninodes ? l->ninodes : 1024;
            while (n <= (size_t)fd)
                n *= 2;
            l->inodes = xrealloc(l->inodes, n * sizeof(*l->inodes));
            memset(l->inodes + l->ninodes, 0, (n - l->ninodes) * sizeof(*l->inodes));
            l->ninodes = n;
        }
        l->inodes[fd] = ino;
        l->pending++;
        queue_push(l, (struct deadline){fd, ino, now_ms(l) + l->cfg->request_timeout_ms});
    }
    l->nfresh = 0;
    arm_deadline(l);
}

/* evhttp asks for each accepted connection's bufferevent: noted, adopted at the turn's end. */
static struct bufferevent *on_new_connection(struct event_base *base, void *arg) {
    struct listener *l = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL)
        return NULL;
    if (l->nfresh == l->fresh_cap) {
        l->fresh_cap = l->fresh_cap ? l->fresh_cap * 2 : 16;
        l->fresh = xrealloc(l->fresh, l->fresh_cap * sizeof(*l->fresh));
    }
    l->fresh[l->nfresh++] = bev;
    event_active(l->adopt_ev, EV_TIMEOUT, 0);
    return bev;
}

/* Closes every pending connection whose deadline passed and that is still the same socket. */
static void on_deadline(evutil_socket_t unused, short what, void *arg) {
    struct listener *l = arg;
    (void)unused, (void)what;
    unsigned long long now = now_ms(l);
    while (l->qlen > 0 && l->queue[l->qhead].at_ms <= now) {
        struct deadline d = l->queue[l->qhead];
        l->qhead = (l->qhead + 1) % l->qcap;
        l->qlen--;
        if ((size_t)d.fd >= l->ninodes || l->inodes[d.fd] != d.ino)
            continue; /* it sent its request, or the number belongs to a later connection */
        forget(l, d.fd);
        if (inode_of(d.fd) == d.ino) {
            shutdown(d.fd, SHUT_RDWR);
            l->metrics->connections_timed_out++;
            log_debug("http: closed a connection without a whole request after %u ms",
                      l->cfg->request_timeout_ms);
        }
    }
    arm_deadline(l);
}

void listener_request_seen(struct listener *l, struct evhttp_request *req) {
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    int fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0)
        forget(l, fd);
}

static void on_resume(evutil_socket_t unused, short what, void *arg) {
    struct listener *l = arg;
    (void)unused, (void)what;
    if (l->lev)
        evconnlistener_enable(l->lev);
}

/* accept() failed. At the file limit the listener would otherwise be woken again at once, for
 * ever: it pauses, and the spare descriptor makes room to take a few queued connections off
 * and close them. */
static void on_accept_error(struct evconnlistener *lev, void *unused) {
    (void)unused; /* evhttp's */
    struct listener *l = registry_get(lev);
    int err = EVUTIL_SOCKET_ERROR();
    if (l == NULL)
        return;
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
        log_debug("http: accept: %s", evutil_socket_error_to_string(err));
        return;
    }
    if (!l->at_file_limit) {
        log_warn("http: accept: %s; pausing new connections (the file limit: max_clients and "
                 "max_pending_connections should fit under it)",
                 evutil_socket_error_to_string(err));
        l->at_file_limit = true;
    }
    l->last_refusal_ms = now_ms(l);
    int fd = evconnlistener_get_fd(lev);
    for (int i = 0; i < LISTENER_SHED_PER_PAUSE; i++) {
        if (l->spare_fd >= 0) {
            close(l->spare_fd);
            l->spare_fd = -1;
        }
        int c = accept(fd, NULL, NULL);
        if (c >= 0) {
            struct linger lg = {1, 0}; /* a reset: the peer learns at once, no TIME_WAIT */
            setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            close(c);
            l->refused_in_episode++;
            l->metrics->connections_refused++;
        }
        l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (c < 0)
            break;
    }
    evconnlistener_disable(lev);
    struct timeval tv = {0, LISTENER_PAUSE_MS * 1000};
    event_add(l->resume_ev, &tv);
}

/* The listening socket: with the configured accept backlog (a reconnect storm of thousands of
 * browsers must not overflow it), and with SO_REUSEPORT when several bridge processes share
 * the port (reuse_port). */
static struct evconnlistener *bind_socket(struct listener *l) {
    const struct config *cfg = l->cfg;
    char port[8];
    snprintf(port, sizeof(port), "%d", cfg->listen_port);
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC,
                                    .ai_socktype = SOCK_STREAM,
                                    .ai_protocol = IPPROTO_TCP,
                                    .ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_ADDRCONFIG};
    struct evutil_addrinfo *ai = NULL;
    int rc = evutil_getaddrinfo(cfg->listen_host, port, &hints, &ai);
    if (rc != 0) {
        log_error("http: cannot listen on %s:%d: %s", cfg->listen_host, cfg->listen_port,
                  evutil_gai_strerror(rc));
        return NULL;
    }
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE;
    if (cfg->reuse_port)
        flags |= LEV_OPT_REUSEABLE_PORT;
    struct evconnlistener *lev = evconnlistener_new_bind(
        l->base, NULL, NULL, flags, (int)cfg->listen_backlog, ai->ai_addr, (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    if (lev == NULL)
        log_error("http: cannot listen on %s:%d: %s", cfg->listen_host, cfg->listen_port,
                  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    return lev;
}

struct listener *listener_new(struct event_base *base, struct evhttp *evhttp,
                              const struct config *cfg, struct metrics *metrics) {
    struct listener *l = xcalloc(1, sizeof(*l));
    l->base = base;
    l->evhttp = evhttp;
    l->cfg = cfg;
    l->metrics = metrics;
    l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    l->adopt_ev = event_new(base, -1, 0, on_adopt, l);
    l->deadline_ev = evtimer_new(base, on_deadline, l);
    l->resume_ev = evtimer_new(base, on_resume, l);
    evhttp_set_bevcb(evhttp, on_new_connection, l);
    /* Between requests of a keep-alive connection: idle no longer than a request may take. */
    if (cfg->request_timeout_ms > 0) {
        struct timeval tv = {cfg->request_timeout_ms / 1000,
                             (cfg->request_timeout_ms % 1000) * 1000};
        evhttp_set_timeout_tv(evhttp, &tv);
    }
    l->lev = bind_socket(l);
    if (l->lev == NULL)
        goto fail;
    registry_set(l->lev, l);
    evconnlistener_set_error_cb(l->lev, on_accept_error);
    l->bound = evhttp_bind_listener(evhttp, l->lev);
    if (l->bound == NULL)
        goto fail;
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    memset(&addr, 0, sizeof(addr));
    socklen_t len = sizeof(addr);
    if (getsockname(evconnlistener_get_fd(l->lev), &addr.sa, &len) == 0)
        l->port = ntohs(addr.sa.sa_family == AF_INET6 ? addr.in6.sin6_port : addr.in4.sin_port);
    return l;
fail:
    if (l->bound == NULL && l->lev != NULL) {
        registry_set(l->lev, NULL);
        evconnlistener_free(l->lev);
    }
    l->lev = NULL;
    listener_free(l);
    return NULL;
}

size_t listener_pending(const struct listener *l) {
    return l->pending;
}

int listener_port(const struct listener *l) {
    return l->port;
}

void listener_stop(struct listener *l) {
    if (l->bound) {
        registry_set(l->lev, NULL);
        evhttp_del_accept_socket(l->evhttp, l->bound); /* frees the evconnlistener too */
        l->bound = NULL;
        l->lev = NULL;
    }
    event_del(l->resume_ev);
}

void listener_free(struct listener *l) {
    if (l == NULL)
        return;
    listener_stop(l);
    if (l->spare_fd >= 0)
        close(l->spare_fd);
    event_free(l->adopt_ev);
    event_free(l->deadline_ev);
    event_free(l->resume_ev);
    free(l->fresh);
    free(l->inodes);
    free(l->queue);
    free(l);
}
