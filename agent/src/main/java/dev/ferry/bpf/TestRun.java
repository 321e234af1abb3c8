package dev.ferry.bpf;

import java.util.Objects;

/**
 * Input of one BPF_PROG_TEST_RUN of a sched_cls program.
 *
 * @param packet         the frame, Ethernet header first (at least 14 bytes)
 * @param ifindex        when non-zero, the device the skb appears on ({@code skb->ifindex}); it is looked up
 *                       in the network namespace of the thread that runs the test
 * @param ingressIfindex when non-zero, {@code skb->ingress_ifindex} (the kernel's skb_iif)
 * @param repeat         how many times the kernel runs the program on the packet (0 counts as 1)
 */
public record TestRun(byte[] packet, int ifindex, int ingressIfindex, int repeat) {
    static final int ETH_HLEN = 14;

    public TestRun {
        Objects.requireNonNull(packet, "packet");
        if (packet.length < ETH_HLEN) {
            throw new IllegalArgumentException("a test packet needs at least an Ethernet header (14 bytes), got "
                    + packet.length);
        }
        if (ifindex < 0 || ingressIfindex < 0 || repeat < 0) {
            throw new IllegalArgumentException("ifindex, ingressIfindex and repeat must not be negative: " + ifindex
                    + ", " + ingressIfindex + ", " + repeat);
        }
        packet = packet.clone();
    }

    /** One run of {@code packet} on the loopback device of the caller's namespace. */
    public static TestRun of(byte[] packet) {
        return new TestRun(packet, 0, 0, 1);
    }

    @Override
    public byte[] packet() {
        return packet.clone();
    }
}
