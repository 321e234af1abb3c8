package dev.ferry.datapath;

import dev.ferry.testing.Traffic;

import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Frames whose IPv4 header is cut short, sent by a pod through its real veth:
 * from_pod leaves them to the stack, counted as truncated, and the datapath goes
 * on forwarding. (BPF_PROG_TEST_RUN refuses such frames, so they travel for real.)
 */
@RequiresRoot
class TruncatedFramesTest {
    AttachedNode node;
    NodeWithPods.Pod a;
    NodeWithPods.Pod b;

    @BeforeEach
    void podsOnTheDatapath() throws Exception {
        node = AttachedNode.create("ftr", AttachMode.TCX, List.of("10.80.1.2", "10.80.1.3"));
        a = node.pod(0);
        b = node.pod(1);
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (node != null) {
            node.close();
        }
    }

    @ParameterizedTest(name = "{0} bytes of IPv4 header")
    @ValueSource(ints = {0, 1, 10, 19})
    void truncatedIpv4HeaderIsCountedAndLeftToTheStack(int ipBytes) throws Exception {
        long before = truncated();
        byte[] frame = Arrays.copyOf(Packets.Ipv4.udp(a.address(), b.address()).frame(), Packets.ETH_HLEN + ipBytes);
        System.arraycopy(a.hostMac().bytes(), 0, frame, 0, 6);
        System.arraycopy(a.podMac().bytes(), 0, frame, 6, 6);
        int podIfindex = a.ns().ifindex("eth0");
        a.ns().handle().call(() -> {
            try {
                RawFrames.send(podIfindex, frame);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
            return null;
        });

        await().until(() -> truncated() > before);
        assertEquals(before + 1, truncated(), "exactly the one frame sent was counted");
        Traffic.ping(a.end(), b.end(), 1); // and forwarding goes on
    }

    private long truncated() {
        return node.datapath.counters().global().stream()
                .filter(c -> c.direction() == Direction.EGRESS && c.verdict() == Verdict.PASS && c.reason() == Reason.TRUNCATED)
                .mapToLong(DatapathCounter::packets).sum();
    }
}
