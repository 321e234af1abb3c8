// A flood of frames the datapath drops, from inside a pod: IPv4/UDP from a
// source address that is not the pod's (from_pod drops it as spoofed_source and,
// while `ferry monitor` is attached, reports each drop to the rate limit), as
// fast as the kernel takes them. For MonitorFloodTest and bench/monitor-flood.sh;
// it lives in bpf/test because the image build copies bpf/ and builds the test
// helpers (bpf/Makefile's test-objects) with the rest.
//
//   flood IFNAME SOURCE DESTINATION PORT SECONDS [THREADS]
//       sends for SECONDS (or until SIGTERM/SIGINT) on IFNAME from SOURCE to
//       DESTINATION:PORT with THREADS threads (default 1), then prints one line:
//       {"sent": N, "failed": N, "seconds": S, "per_s": R, "threads": T}
//
// The fast path: an AF_PACKET socket per thread with PACKET_QDISC_BYPASS (no
// qdisc, no UDP or IP stack: the frame goes straight to the veth, whose peer's
// tc ingress runs from_pod in this thread's softirq), batches of BATCH frames
// per sendmmsg. Every frame is the same 64 bytes; the source port differs per
// thread only. No pktgen module on these machines, hence this.
//
// Exit status: 0 done, 1 a bad value or a failed socket call (one line on
// stderr), 2 usage.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define FRAME_BYTES 64   // Ethernet's minimum payload padded in: what a real sender's smallest frame costs
#define MAX_THREADS 64

static atomic_bool stopping;

struct sender {
    pthread_t thread;
    int fd;
    unsigned char frame[FRAME_BYTES];
    uint64_t sent;
    uint64_t failed;   // frames the device refused (ENOBUFS, EAGAIN): the flood outran it
    int error;         // errno of a failure that ended the thread, else 0
};

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void on_signal(int sig) {
    (void)sig;
    atomic_store(&stopping, true);
}

static uint16_t ip_checksum(const unsigned char *h, int len) {
    uint32_t sum = 0;
    for (int i = 0; i < len; i += 2)
        sum += (uint32_t)h[i] << 8 | h[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

// Ethernet (broadcast: the host veth takes it either way, and from_pod drops it before any MAC matters),
// IPv4 (TTL 64, DF), UDP with checksum 0 (allowed for IPv4), zero padding to FRAME_BYTES.
static void build_frame(unsigned char *f, const unsigned char *own_mac, struct in_addr src, struct in_addr dst,
                        uint16_t sport, uint16_t dport) {
    memset(f, 0, FRAME_BYTES);
    memset(f, 0xff, 6);
    memcpy(f + 6, own_mac, 6);
    f[12] = 0x08; f[13] = 0x00;
    unsigned char *ip = f + 14;
    uint16_t tot_len = FRAME_BYTES - 14;
    ip[0] = 0x45; ip[2] = tot_len >> 8; ip[3] = tot_len & 0xff;
    ip[6] = 0x40;            // DF
    ip[8] = 64; ip[9] = 17;  // TTL, UDP
    memcpy(ip + 12, &src, 4);
    memcpy(ip + 16, &dst, 4);
    uint16_t csum = ip_checksum(ip, 20);
    ip[10] = csum >> 8; ip[11] = csum & 0xff;
    unsigned char *udp = ip + 20;
    uint16_t udp_len = tot_len - 20;
    udp[0] = sport >> 8; udp[1] = sport & 0xff;
    udp[2] = dport >> 8; udp[3] = dport & 0xff;
    udp[4] = udp_len >> 8; udp[5] = udp_len & 0xff;
}

static void *send_loop(void *arg) {
    struct sender *s = arg;
    struct mmsghdr msgs[BATCH];
    struct iovec iov = {.iov_base = s->frame, .iov_len = FRAME_BYTES};

    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < BATCH; i++) {
        msgs[i].msg_hdr.msg_iov = &iov;
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        int n = sendmmsg(s->fd, msgs, BATCH, 0);
        if (n > 0) {
            s->sent += (uint64_t)n;
        } else if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
            s->failed++;
            sched_yield();
        } else {
            s->error = errno;
            break;
        }
    }
    return NULL;
}

static int open_socket(int ifindex) {
    int fd = socket(AF_PACKET, SOCK_RAW, 0);   // protocol 0: it receives nothing
    if (fd < 0)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
        return -1;
    struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = ifindex};
    if (bind(fd, (struct sockaddr *)&ll, sizeof(ll)) < 0)
        return -1;
    return fd;
}

static void fail(const char *what, const char *name) {
    fprintf(stderr, "flood: failed to %s '%s': %s\n", what, name, strerror(errno));
    exit(1);
}

static long number(const char *text, const char *what, long min, long max) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < min || v > max) {
        fprintf(stderr, "flood: %s must be a whole number from %ld to %ld, not '%s'\n", what, min, max, text);
        exit(1);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: flood IFNAME SOURCE DESTINATION PORT SECONDS [THREADS]\n");
        return 2;
    }
    const char *ifname = argv[1];
    struct in_addr src, dst;
    if (inet_pton(AF_INET, argv[2], &src) != 1 || inet_pton(AF_INET, argv[3], &dst) != 1) {
        fprintf(stderr, "flood: SOURCE and DESTINATION must be IPv4 addresses, not '%s' and '%s'\n", argv[2], argv[3]);
        return 1;
    }
    uint16_t port = (uint16_t)number(argv[4], "PORT", 1, 65535);
    long seconds = number(argv[5], "SECONDS", 1, 86400);
    int threads = argc == 7 ? (int)number(argv[6], "THREADS", 1, MAX_THREADS) : 1;

    int ifindex = (int)if_nametoindex(ifname);
    if (!ifindex)
        fail("find the device", ifname);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    int probe = socket(AF_INET, SOCK_DGRAM, 0);
    if (probe < 0 || ioctl(probe, SIOCGIFHWADDR, &ifr) < 0)
        fail("read the MAC address of", ifname);
    close(probe);

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    static struct sender senders[MAX_THREADS];
    for (int i = 0; i < threads; i++) {
        senders[i].fd = open_socket(ifindex);
        if (senders[i].fd < 0)
            fail("open a packet socket with PACKET_QDISC_BYPASS on", ifname);
        build_frame(senders[i].frame, (unsigned char *)ifr.ifr_hwaddr.sa_data, src, dst, (uint16_t)(40000 + i), port);
    }
    int64_t start = now_ns();
    for (int i = 0; i < threads; i++) {
        errno = pthread_create(&senders[i].thread, NULL, send_loop, &senders[i]);
        if (errno)
            fail("start a sender thread on", ifname);
    }
    int64_t deadline = start + seconds * 1000000000LL;
    while (!atomic_load(&stopping) && now_ns() < deadline) {
        struct timespec tick = {0, 10000000};  // 10 ms: the end is seen soon enough
        nanosleep(&tick, NULL);
    }
    atomic_store(&stopping, true);
    uint64_t sent = 0, failed = 0;
    int error = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(senders[i].thread, NULL);
        sent += senders[i].sent;
        failed += senders[i].failed;
        if (senders[i].error)
            error = senders[i].error;
        close(senders[i].fd);
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    printf("{\"sent\": %llu, \"failed\": %llu, \"seconds\": %.3f, \"per_s\": %.0f, \"threads\": %d}\n",
           (unsigned long long)sent, (unsigned long long)failed, elapsed, sent / elapsed, threads);
    if (error) {
        fprintf(stderr, "flood: failed to send on '%s': %s\n", ifname, strerror(error));
        return 1;
    }
    return 0;
}
