// TCP request/response for bench/run.sh, over IPv4 or IPv6 alike: sockperf
// 3.7 (Debian 12's) takes IPv4 addresses only, and figure 2 puts both families
// side by side, so both are measured by this one program.
//
//   rr serve PORT                       answers every 64-byte request with 64 bytes,
//                                       on [::]:PORT (IPv4 clients too), one client at a time
//   rr ping ADDR PORT SECONDS SIZE      ping-pong for SECONDS; prints "p50_us p99_us tx_per_s"
//
// What it measures is sockperf ping-pong --tcp --full-rtt's: one blocking
// send and one blocking receive of SIZE bytes per transaction, TCP_NODELAY,
// each round trip timed by CLOCK_MONOTONIC; the first 100 ms are warm-up and
// not counted.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 65536
#define WARMUP_NS 100000000LL

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "rr: %s: %s\n", what, strerror(errno));
    exit(1);
}

// Reads or writes exactly n bytes; 0 when the peer closed, -1 on error.
static int full(int fd, char *buf, size_t n, int writing) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = writing ? send(fd, buf + done, n - done, MSG_NOSIGNAL) : recv(fd, buf + done, n - done, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r == 0 ? 0 : -1;
        done += (size_t)r;
    }
    return 1;
}

static void nodelay(int fd) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) die("TCP_NODELAY");
}

static _Noreturn void serve(const char *port) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    // One socket for both families: IPv4 clients arrive as ::ffff:a.b.c.d.
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) die("IPV6_V6ONLY");
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any, .sin6_port = htons((uint16_t)atoi(port))};
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) die("bind");
    if (listen(fd, 16) < 0) die("listen");
    static char buf[MAX_SIZE];
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR) continue;
            die("accept");
        }
        nodelay(c);
        // The client's first word says the request size (4 bytes, network order).
        uint32_t size;
        if (full(c, (char *)&size, sizeof(size), 0) == 1 && (size = ntohl(size)) > 0 && size <= MAX_SIZE) {
            while (full(c, buf, size, 0) == 1 && full(c, buf, size, 1) == 1) {}
        }
        close(c);
    }
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int ping(const char *addr, const char *port, double seconds, size_t size) {
    if (size == 0 || size > MAX_SIZE) { fprintf(stderr, "rr: size must be 1 to %d\n", MAX_SIZE); return 2; }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV}, *ai;
    int err = getaddrinfo(addr, port, &hints, &ai);
    if (err) { fprintf(stderr, "rr: bad address '%s' or port '%s': %s\n", addr, port, gai_strerror(err)); return 2; }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) die("connect");
    freeaddrinfo(ai);
    nodelay(fd);
    uint32_t wire = htonl((uint32_t)size);
    if (full(fd, (char *)&wire, sizeof(wire), 1) != 1) die("send size");

    static char buf[MAX_SIZE];
    memset(buf, 'x', size);
    size_t cap = 1 << 16, n = 0;
    int64_t *rtt = malloc(cap * sizeof(*rtt));
    if (!rtt) die("malloc");
    int64_t start = now_ns(), counted_from = start + WARMUP_NS, end = counted_from + (int64_t)(seconds * 1e9);
    int64_t t = start;
    while (t < end) {
        int64_t t0 = now_ns();
        if (full(fd, buf, size, 1) != 1) die("send");
        int got = full(fd, buf, size, 0);
        if (got == 0) { fprintf(stderr, "rr: the server closed the connection\n"); return 1; }
        if (got < 0) die("receive");
        t = now_ns();
        if (t0 < counted_from) continue;
        if (n == cap) {
            cap *= 2;
            if (!(rtt = realloc(rtt, cap * sizeof(*rtt)))) die("realloc");
        }
        rtt[n++] = t - t0;
    }
    close(fd);
    if (n == 0) { fprintf(stderr, "rr: no round trip completed\n"); return 1; }
    double elapsed = (double)(t - counted_from) / 1e9;
    qsort(rtt, n, sizeof(*rtt), cmp);
    // Nearest rank, as sockperf's percentiles.
    size_t p50 = (n * 50 + 99) / 100, p99 = (n * 99 + 99) / 100;
    printf("%.3f %.3f %.0f\n", rtt[p50 - 1] / 1e3, rtt[p99 - 1] / 1e3, n / elapsed);
    free(rtt);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "serve") == 0) serve(argv[2]);
    if (argc == 6 && strcmp(argv[1], "ping") == 0) return ping(argv[2], argv[3], atof(argv[4]), (size_t)atol(argv[5]));
    fprintf(stderr, "usage: rr serve PORT | rr ping ADDR PORT SECONDS SIZE\n");
    return 2;
}
