package dev.ferry.netlink;

import dev.ferry.net.IpPrefix;
import dev.ferry.net.MacAddress;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The neighbour notifications of a test namespace, changed through RtNetlink
 * and through real ARP on a veth, as {@link NeighbourEvents} delivers them.
 */
@RequiresRoot
class NeighbourEventsTest extends TwoNamespaces {
    private static final InetAddress NEIGHBOUR = IpPrefix.literal("10.232.1.5");
    private static final MacAddress MAC_1 = MacAddress.parse("02:fe:00:00:23:01");
    private static final MacAddress MAC_2 = MacAddress.parse("02:fe:00:00:23:02");

    private final BlockingQueue<NeighbourEvent> delivered = new LinkedBlockingQueue<>();

    @Test
    void anEntryAddedReplacedAndDeletedArrivesAsItsChangesThenItsDeletionInOrder() throws Exception {
        Link hostEnd = plumbVeth();
        try (NeighbourEvents events = NeighbourEvents.open(host.handle(), delivered::add)) {
            nl.addNeighbour(Neighbour.permanent(hostEnd.index(), NEIGHBOUR, MAC_1));
            nl.replaceNeighbour(Neighbour.permanent(hostEnd.index(), NEIGHBOUR, MAC_2));
            nl.deleteNeighbour(hostEnd.index(), NEIGHBOUR);

            assertEquals(new NeighbourEvent.Changed(Neighbour.permanent(hostEnd.index(), NEIGHBOUR, MAC_1)), next(about(NEIGHBOUR)));
            assertEquals(new NeighbourEvent.Changed(Neighbour.permanent(hostEnd.index(), NEIGHBOUR, MAC_2)), next(about(NEIGHBOUR)));
            // The kernel fails an entry before it removes it (neigh_delete): a FAILED change comes first.
            assertEquals(new NeighbourEvent.Changed(new Neighbour(hostEnd.index(), NEIGHBOUR, null, Neighbour.NUD_FAILED)),
                    next(about(NEIGHBOUR)));
            assertEquals(new NeighbourEvent.Deleted(new Neighbour(hostEnd.index(), NEIGHBOUR, null, Neighbour.NUD_FAILED)),
                    next(about(NEIGHBOUR)));
        }
    }

    @Test
    void aNeighbourResolvedByArpArrivesReachableWithTheMacThatAnswered() throws Exception {
        Link hostEnd = plumbVeth();
        nl.addAddress(Address.of(hostEnd.index(), IpPrefix.parse("10.232.2.1/24")));
        podNl.addAddress(Address.of(podEth0(), IpPrefix.parse("10.232.2.2/24")));
        MacAddress podMac = podNl.link(podEth0()).orElseThrow().mac();
        InetAddress podAddress = IpPrefix.literal("10.232.2.2");
        try (NeighbourEvents events = NeighbourEvents.open(host.handle(), delivered::add)) {
            nl.resolveNeighbour(hostEnd.index(), podAddress);

            NeighbourEvent reachable = next(e -> e instanceof NeighbourEvent.Changed(Neighbour n)
                    && n.address().equals(podAddress) && (n.state() & Neighbour.NUD_REACHABLE) != 0);
            assertEquals(new Neighbour(hostEnd.index(), podAddress, podMac, Neighbour.NUD_REACHABLE),
                    ((NeighbourEvent.Changed) reachable).neighbour());
        }
    }

    @Test
    void onlyTheNamespaceItWasOpenedInIsWatched() throws Exception {
        Link hostEnd = plumbVeth();
        BlockingQueue<NeighbourEvent> inPod = new LinkedBlockingQueue<>();
        try (NeighbourEvents events = NeighbourEvents.open(host.handle(), delivered::add);
             NeighbourEvents podEvents = NeighbourEvents.open(pod.handle(), inPod::add)) {
            podNl.replaceNeighbour(Neighbour.permanent(podEth0(), NEIGHBOUR, MAC_1));
            awaitFrom(inPod, about(NEIGHBOUR));
            nl.replaceNeighbour(Neighbour.permanent(hostEnd.index(), NEIGHBOUR, MAC_2));

            // The kernel delivers in order: the host's own change comes first, and nothing of the pod's was before it.
            assertEquals(new NeighbourEvent.Changed(Neighbour.permanent(hostEnd.index(), NEIGHBOUR, MAC_2)), next(about(NEIGHBOUR)));
        }
    }

    @Test
    void afterCloseTheReaderHasEndedItsSocketIsClosedAndNothingMoreIsDelivered() throws Exception {
        Link hostEnd = plumbVeth();
        NeighbourEvents events = NeighbourEvents.open(host.handle(), delivered::add);
        Path socketFd = Path.of("/proc/self/fd/" + events.socketFd());
        String socket = Files.readSymbolicLink(socketFd).toString();
        assertTrue(socket.startsWith("socket:"), socket);
        nl.replaceNeighbour(Neighbour.permanent(hostEnd.index(), NEIGHBOUR, MAC_1));
        next(about(NEIGHBOUR));

        events.close();

        assertFalse(events.thread().isAlive(), "the reading thread has ended");
        assertTrue(!Files.exists(socketFd, LinkOption.NOFOLLOW_LINKS)
                        || !Files.readSymbolicLink(socketFd).toString().equals(socket),
                "descriptor " + events.socketFd() + " no longer the subscribed socket");
        // A witness subscribed now sees the next change; the closed one must not have.
        BlockingQueue<NeighbourEvent> witnessed = new LinkedBlockingQueue<>();
        try (NeighbourEvents witness = NeighbourEvents.open(host.handle(), witnessed::add)) {
            nl.replaceNeighbour(Neighbour.permanent(hostEnd.index(), NEIGHBOUR, MAC_2));
            awaitFrom(witnessed, about(NEIGHBOUR));
        }
        assertEquals(null, delivered.poll(), "delivered after close");
        events.close(); // a second close is harmless
    }

    @Test
    void aConsumerThatClosesItsOwnWatchEndsTheReaderAndItsSocketOnReturning() throws Exception {
        Link hostEnd = plumbVeth();
        AtomicReference<NeighbourEvents> self = new AtomicReference<>();
        CountDownLatch opened = new CountDownLatch(1);
        NeighbourEvents events = NeighbourEvents.open(host.handle(), e -> {
            try {
                opened.await();
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
            delivered.add(e);
            self.get().close();
        });
        self.set(events);
        opened.countDown();
        String socket = Files.readSymbolicLink(Path.of("/proc/self/fd/" + events.socketFd())).toString();
        nl.replaceNeighbour(Neighbour.permanent(hostEnd.index(), NEIGHBOUR, MAC_1));
        next(about(NEIGHBOUR));

        events.thread().join(Duration.ofSeconds(10));

        assertFalse(events.thread().isAlive(), "the reading thread has ended");
        Path socketFd = Path.of("/proc/self/fd/" + events.socketFd());
        assertTrue(!Files.exists(socketFd, LinkOption.NOFOLLOW_LINKS)
                || !Files.readSymbolicLink(socketFd).toString().equals(socket), "the subscribed socket is closed");
        events.close(); // and closing it again from outside is harmless
    }

    @Test
    void notificationsTheKernelDroppedAndThoseStillQueuedBecomeOneResyncAndLaterOnesArrive() throws Exception {
        Link hostEnd = plumbVeth();
        CountDownLatch release = new CountDownLatch(1);
        // The smallest buffer the kernel allows (a few KiB): held up by its consumer, the reader overruns it.
        try (NeighbourEvents events = NeighbourEvents.open(host.handle(), e -> {
            delivered.add(e);
            try {
                release.await();
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
        }, 1)) {
            nl.replaceNeighbour(Neighbour.permanent(hostEnd.index(), NEIGHBOUR, MAC_1));
            next(about(NEIGHBOUR)); // the consumer is now held
            for (int i = 0; i < 500; i++) {
                nl.replaceNeighbour(Neighbour.permanent(hostEnd.index(), NEIGHBOUR, i % 2 == 0 ? MAC_2 : MAC_1));
            }
            release.countDown();

            next(e -> e instanceof NeighbourEvent.Resync);
            InetAddress later = IpPrefix.literal("10.232.1.6");
            nl.replaceNeighbour(Neighbour.permanent(hostEnd.index(), later, MAC_2));

            // What was still queued is older than the consumer's fresh read, and never comes after the Resync.
            assertEquals(new NeighbourEvent.Changed(Neighbour.permanent(hostEnd.index(), later, MAC_2)),
                    next(about(NEIGHBOUR).or(about(later))));
        }
    }

    @Test
    void decodingSkipsWhatIsNotANeighbourNotification() {
        assertNotEquals(null, NeighbourEvents.decode(message(Uapi.RTM_NEWNEIGH, Neighbour.NUD_REACHABLE)));
        assertEquals(null, NeighbourEvents.decode(message(Uapi.RTM_NEWNEIGH, Neighbour.NUD_NOARP)), "the kernel's multicast entries");
        assertEquals(null, NeighbourEvents.decode(message(Uapi.RTM_NEWROUTE, Neighbour.NUD_REACHABLE)));
    }

    private static Message message(int type, int state) {
        byte[] bytes = new MessageBuilder(type, 0).u8(Uapi.AF_INET).u8(0).u16(0).u32(7).u16(state).u8(0).u8(0)
                .attr(Uapi.NDA_DST, NEIGHBOUR.getAddress()).build();
        return Message.split(ByteBuffer.wrap(bytes)).getFirst();
    }

    private static Predicate<NeighbourEvent> about(InetAddress address) {
        return e -> switch (e) {
            case NeighbourEvent.Changed(Neighbour n) -> n.address().equals(address);
            case NeighbourEvent.Deleted(Neighbour n) -> n.address().equals(address);
            case NeighbourEvent.Resync() -> false;
        };
    }

    /** The next delivered event that matches, skipping others (IPv6 of the veths, say); at most 10 s. */
    private NeighbourEvent next(Predicate<NeighbourEvent> wanted) throws InterruptedException {
        return awaitFrom(delivered, wanted);
    }

    private static NeighbourEvent awaitFrom(BlockingQueue<NeighbourEvent> queue, Predicate<NeighbourEvent> wanted)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            NeighbourEvent e = queue.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (e == null) {
                fail("no matching neighbour event within 10 s");
            }
            if (wanted.test(e)) {
                return e;
            }
        }
    }
}
