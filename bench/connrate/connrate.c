// connrate: the connection-rate load of bench/conn.sh. One TCP connection per
// request, as a client of a Service makes them: connect, write a request, read
// the response until the server closes, close.
//
//   connrate server ADDR PORT [--request N] [--response M] [--cpu C] [--fifo PRIO]
//   connrate client ADDR PORT --seconds T (--concurrency C | --rate R)
//                  [--request N] [--response M] [--cpu C] [--fifo PRIO]
//
// The client is closed loop with --concurrency (C connections always in flight,
// each replaced by a new one as it completes) or open loop with --rate (a new
// connection every 1/R s, whatever the others do, up to MAX_IN_FLIGHT). It prints
// one JSON line: connections completed, failures, the rate, p50/p99 per connection.
// Open loop latency runs from the connection's scheduled start, so a stall shows
// as latency (no coordinated omission). Both sides are single-threaded epoll
// loops; --cpu pins, --fifo asks for SCHED_FIFO and says on stderr when refused.
//
// Built by bench/conn.sh with the machine's cc; the binary is never committed.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_IN_FLIGHT 4096
#define MAX_PAYLOAD 65536
#define CONN_TIMEOUT_NS 2000000000LL   // a connection not done in 2 s is a failure

static int request_bytes = 100, response_bytes = 100;
static char payload[MAX_PAYLOAD];
static volatile sig_atomic_t stopping;

static void die(const char *what) {
  fprintf(stderr, "connrate: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Pins to one CPU and asks for SCHED_FIFO, so that other work on a shared
// machine does not decide the result. Refusal is not fatal: said on stderr.
static int place(int cpu, int fifo) {
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set)) die("failed to pin to the CPU");
  }
  if (fifo > 0) {
    struct sched_param p = {.sched_priority = fifo};
    if (sched_setscheduler(0, SCHED_FIFO, &p)) {
      fprintf(stderr, "connrate: note: SCHED_FIFO refused (%s); running SCHED_OTHER\n", strerror(errno));
      return 0;
    }
    return 1;
  }
  return 0;
}

static struct sockaddr_in parse_addr(const char *ip, const char *port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
    fprintf(stderr, "connrate: not an IPv4 address: '%s'\n", ip);
    exit(2);
  }
  return a;
}

static void on_term(int sig) { (void)sig; stopping = 1; }

// ---------------------------------------------------------------------------
// Server: accept, read request_bytes, write response_bytes, close.

struct sconn { int fd; int got; };

static void server(struct sockaddr_in addr) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (lfd < 0) die("failed to create the listening socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr)) die("failed to bind");
  if (listen(lfd, 4096)) die("failed to listen");
  int ep = epoll_create1(0);
  if (ep < 0) die("failed to create the epoll instance");
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev)) die("failed to watch the listening socket");
  struct epoll_event evs[256];
  char buf[MAX_PAYLOAD];
  while (!stopping) {
    int n = epoll_wait(ep, evs, 256, 500);
    if (n < 0) { if (errno == EINTR) continue; die("epoll_wait"); }
    for (int i = 0; i < n; i++) {
      struct sconn *c = evs[i].data.ptr;
      if (!c) {
        for (;;) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
          if (fd < 0) break;   // EAGAIN: accepted all; anything else: the client gave up, nothing to do
          c = calloc(1, sizeof *c);
          c->fd = fd;
          struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
          if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev)) { close(fd); free(c); }
        }
        continue;
      }
      int done = 0;
      for (;;) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r > 0) { c->got += (int)r; continue; }
        if (r == 0 || (errno != EAGAIN && errno != EINTR)) done = 1;   // client gone: just close
        break;
      }
      if (c->got >= request_bytes) {
        // The response fits the socket buffer: one write, then close (the server closes first, so
        // TIME_WAIT stays on the server's side and the client's ports are free again at once).
        if (write(c->fd, payload, (size_t)response_bytes) < 0) { /* the client reset: nothing to send to */ }
        done = 1;
      }
      if (done) { close(c->fd); free(c); }   // close removes it from the epoll set
    }
  }
}

// ---------------------------------------------------------------------------
// Client

struct cconn { int fd; int64_t start; int sent; int got; };

static struct cconn conns[MAX_IN_FLIGHT];
static struct cconn *free_slots[MAX_IN_FLIGHT];   // a stack: taking and returning a slot is O(1)
static int free_n;
static int64_t *lat;
static size_t lat_n, lat_cap;
static long completed, failed;
static int in_flight;

static void record(int64_t ns) {
  if (lat_n == lat_cap) {
    lat_cap = lat_cap ? lat_cap * 2 : 65536;
    lat = realloc(lat, lat_cap * sizeof *lat);
    if (!lat) die("out of memory");
  }
  lat[lat_n++] = ns;
}

static void finish(int ep, struct cconn *c, int ok, int64_t now) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (ok) { completed++; record(now - c->start); } else failed++;
  in_flight--;
  c->fd = -1;
  free_slots[free_n++] = c;
}


static int open_one(int ep, struct sockaddr_in *addr, int64_t start) {
  if (free_n == 0) { failed++; return -1; }   // open loop only: more in flight than the client holds
  struct cconn *c = free_slots[--free_n];
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) { failed++; return -1; }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  *c = (struct cconn){.fd = fd, .start = start};
  in_flight++;
  if (connect(fd, (struct sockaddr *)addr, sizeof *addr) && errno != EINPROGRESS) {
    c->fd = fd;
    finish(ep, c, 0, now_ns());
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  return 0;
}

// Advances one connection on readiness: send the request once writable, read until EOF.
static void step_conn(int ep, struct cconn *c, uint32_t events, int64_t now) {
  if (c->sent < request_bytes && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int err = 0; socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) { finish(ep, c, 0, now); return; }
    ssize_t w = write(c->fd, payload, (size_t)(request_bytes - c->sent));
    if (w < 0) { if (errno != EAGAIN) finish(ep, c, 0, now); return; }
    c->sent += (int)w;
    if (c->sent >= request_bytes) {
      struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
      epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    char buf[MAX_PAYLOAD];
    for (;;) {
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r > 0) { c->got += (int)r; continue; }
      if (r == 0) { finish(ep, c, c->got >= response_bytes, now); return; }
      if (errno == EAGAIN) return;
      finish(ep, c, 0, now);
      return;
    }
  }
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static double pct_us(double p) {
  if (!lat_n) return -1;
  size_t k = (size_t)(p / 100.0 * (double)lat_n + 0.999999);
  if (k < 1) k = 1;
  if (k > lat_n) k = lat_n;
  return (double)lat[k - 1] / 1000.0;
}

static void client(struct sockaddr_in addr, double seconds, int concurrency, double rate, int fifo) {
  for (int i = 0; i < MAX_IN_FLIGHT; i++) { conns[i].fd = -1; free_slots[free_n++] = &conns[MAX_IN_FLIGHT - 1 - i]; }
  int ep = epoll_create1(0);
  if (ep < 0) die("failed to create the epoll instance");
  struct epoll_event evs[256];
  int64_t t0 = now_ns(), end = t0 + (int64_t)(seconds * 1e9), next = t0;
  int64_t interval = rate > 0 ? (int64_t)(1e9 / rate) : 0;
  int64_t now = t0, next_scan = t0;
  // Phase 1: keep the load on until the end; phase 2: let what is in flight finish (or time out).
  while (!stopping) {
    if (now < end) {
      if (rate > 0) {
        while (next <= now && now < end) { open_one(ep, &addr, next); next += interval; }
      } else {
        while (in_flight < concurrency) open_one(ep, &addr, now);
      }
    } else if (in_flight == 0) {
      break;
    }
    // Open loop sleeps exactly until the next start (epoll_pwait2 takes nanoseconds: a millisecond
    // timeout would round 1/R down to 0 and spin, and the spin would count as the client's CPU).
    int64_t wait = 10000000;
    if (rate > 0 && now < end) wait = next - now < 0 ? 0 : next - now;
    struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
    int n = epoll_pwait2(ep, evs, 256, &ts, NULL);
    if (n < 0 && errno != EINTR) die("epoll_pwait2");
    now = now_ns();
    for (int i = 0; i < n; i++) step_conn(ep, evs[i].data.ptr, evs[i].events, now);
    if (now >= next_scan) {   // timeouts: a scan every 100 ms is plenty for a 2 s limit
      for (int i = 0; i < MAX_IN_FLIGHT; i++)
        if (conns[i].fd >= 0 && now - conns[i].start > CONN_TIMEOUT_NS) finish(ep, &conns[i], 0, now);
      next_scan = now + 100000000;
    }
  }
  double took = (double)(now - t0) / 1e9;
  qsort(lat, lat_n, sizeof *lat, cmp64);
  printf("{\"mode\":\"%s\",\"offered_per_s\":%.0f,\"concurrency\":%d,\"seconds\":%.3f,\"completed\":%ld,\"failed\":%ld,"
         "\"per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"fifo\":%s}\n",
         rate > 0 ? "open" : "closed", rate, concurrency, took, completed, failed,
         (double)completed / seconds, pct_us(50), pct_us(99), fifo ? "true" : "false");
}

static void usage(void) {
  fprintf(stderr, "usage: connrate server ADDR PORT [--request N] [--response M] [--cpu C] [--fifo PRIO]\n"
                  "       connrate client ADDR PORT --seconds T (--concurrency C | --rate R) [--request N] [--response M] [--cpu C] [--fifo PRIO]\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 4) usage();
  int is_server = !strcmp(argv[1], "server");
  if (!is_server && strcmp(argv[1], "client")) usage();
  struct sockaddr_in addr = parse_addr(argv[2], argv[3]);
  double seconds = 0, rate = 0;
  int concurrency = 0, cpu = -1, fifo = 0;
  for (int i = 4; i < argc; i++) {
    if (i + 1 >= argc) usage();
    const char *k = argv[i], *v = argv[++i];
    if (!strcmp(k, "--request")) request_bytes = atoi(v);
    else if (!strcmp(k, "--response")) response_bytes = atoi(v);
    else if (!strcmp(k, "--seconds")) seconds = atof(v);
    else if (!strcmp(k, "--concurrency")) concurrency = atoi(v);
    else if (!strcmp(k, "--rate")) rate = atof(v);
    else if (!strcmp(k, "--cpu")) cpu = atoi(v);
    else if (!strcmp(k, "--fifo")) fifo = atoi(v);
    else usage();
  }
  if (request_bytes < 1 || request_bytes > MAX_PAYLOAD || response_bytes < 1 || response_bytes > MAX_PAYLOAD) {
    fprintf(stderr, "connrate: --request and --response must be 1..%d bytes\n", MAX_PAYLOAD);
    return 2;
  }
  memset(payload, 'x', sizeof payload);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_term};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  struct rlimit rl = {MAX_IN_FLIGHT * 2 + 64, MAX_IN_FLIGHT * 2 + 64};
  setrlimit(RLIMIT_NOFILE, &rl);
  int got_fifo = place(cpu, fifo);
  if (is_server) {
    server(addr);
    return 0;
  }
  if (seconds <= 0 || (concurrency <= 0) == (rate <= 0) || concurrency > MAX_IN_FLIGHT) {
    fprintf(stderr, "connrate: the client needs --seconds T > 0 and either --concurrency 1..%d or --rate R > 0\n", MAX_IN_FLIGHT);
    return 2;
  }
  client(addr, seconds, concurrency, rate, got_fifo);
  return 0;
}
