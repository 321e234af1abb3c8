package dev.ferry.capture;

import dev.ferry.api.ApiStream;
import dev.ferry.datapath.Datapath;
import dev.ferry.endpoint.Endpoint;
import dev.ferry.net.IpPrefix;
import dev.ferry.netlink.RtNetlink;
import dev.ferry.netns.NetNamespace;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * {@code ferry capture}: turns a capture on (slot, device, socket, the pod's
 * mirror word), hands it to the socket API as a stream, and turns it off when
 * the stream ends however it ends. Several at once, of the same pod or others,
 * up to the free slots. Made at agent start, after {@link MirrorSlots#reset}:
 * capture devices a killed agent left behind are deleted here.
 */
public final class Captures implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Captures.class);

    private final NetNamespace node;
    private final RtNetlink netlink;
    private final Datapath datapath;
    private final MirrorSlots slots;
    private final Supplier<List<Endpoint>> endpoints;
    private final String nodeName;
    /** The node whose pod CIDR holds an address, when the agent knows the other nodes' (standalone peers). */
    private final java.util.function.Function<InetAddress, Optional<String>> nodeOf;
    private final Set<Capture> active = ConcurrentHashMap.newKeySet();
    private final AtomicInteger ids = new AtomicInteger();
    private volatile boolean closed;

    public Captures(NetNamespace node, RtNetlink netlink, Datapath datapath, MirrorSlots slots,
                    Supplier<List<Endpoint>> endpoints, String nodeName,
                    java.util.function.Function<InetAddress, Optional<String>> nodeOf) {
        this.nodeOf = nodeOf;
        this.node = node;
        this.netlink = netlink;
        this.datapath = datapath;
        this.slots = slots;
        this.endpoints = endpoints;
        this.nodeName = nodeName;
        int deleted = CaptureDevice.deleteLeftovers(netlink);
        if (deleted > 0) {
            log.info("event=capture_devices_deleted count={} reason=left_by_an_earlier_agent", deleted);
        }
    }

    /**
     * Starts a capture of the request's pod. Bad input and an unknown pod throw
     * {@link CaptureException} before anything is made; the capture runs once
     * the returned stream runs, and ends with it.
     */
    public ApiStream start(CaptureRequest request) {
        if (closed) {
            throw new CaptureException(503, "the agent is stopping");
        }
        Endpoint pod = find(request.pod());
        List<InetAddress> addresses = pod.addresses().stream().map(IpPrefix::address).toList();
        int slot = slots.take();
        CaptureDevice device = null;
        PacketSocket socket = null;
        try {
            device = CaptureDevice.create(node, netlink, datapath, slot);
            // The socket first, the mirror last: every copy made finds a reader.
            socket = PacketSocket.open(node, device.readIfindex(), device.writeMac());
            slots.configure(slot, request.filter().toward(device.writeIfindex()));
            Capture capture = new Capture(ids.incrementAndGet(), slot, name(pod), addresses, pod.hostIfindex(), request,
                    device, socket, this);
            active.add(capture);
            slots.mirror(addresses, pod.hostIfindex(), slot);
            log.info("event=capture_started id={} pod={} slot={} device={} count={} duration_s={} filter={}",
                    capture.id, capture.pod, slot, device.name(), request.count(), request.duration().toSeconds(),
                    request.filter());
            return capture;
        } catch (RuntimeException e) {
            slots.release(addresses, pod.hostIfindex(), slot);
            if (socket != null) {
                socket.close();
            }
            if (device != null) {
                device.close();
            }
            active.removeIf(c -> c.slot == slot);
            throw e;
        }
    }

    /** Turns the capture off: the pod's word first (no more copies), then the slot, the socket and the device. */
    void end(Capture capture, long packets) {
        if (!active.remove(capture)) {
            return;
        }
        slots.release(capture.addresses, capture.hostIfindex, capture.slot);
        capture.socket.close();
        capture.device.close();
        log.info("event=capture_ended id={} pod={} slot={} packets={}", capture.id, capture.pod, capture.slot, packets);
    }

    /** The captures running now. */
    public int active() {
        return active.size();
    }

    /** The captures running now, by id: what {@code GET /v1/mirrors} lists beside the persistent mirrors. */
    public List<MirrorStatus.Running> running() {
        return active.stream().map(c -> new MirrorStatus.Running(c.id, c.slot, c.pod,
                        c.addresses.stream().map(InetAddress::getHostAddress).toList(), c.request.filter().words()))
                .sorted(java.util.Comparator.comparingInt(MirrorStatus.Running::id))
                .toList();
    }

    private Endpoint find(String pod) {
        List<Endpoint> all = endpoints.get();
        Optional<InetAddress> address = address(pod);
        List<Endpoint> found = all.stream().filter(e -> {
            if (address.isPresent()) {
                return e.addresses().stream().anyMatch(a -> a.address().equals(address.get()));
            }
            if (pod.contains("/")) {
                return pod.equals(e.podNamespace().orElse("") + "/" + e.podName().orElse(""));
            }
            return e.containerId().equals(pod) || (pod.length() >= 12 && e.containerId().startsWith(pod));
        }).toList();
        if (found.size() > 1 && !pod.contains("/")) {
            throw new CaptureException(400, "'" + pod + "' names " + found.size() + " endpoints; give the whole container id");
        }
        if (found.isEmpty() && address.isPresent()) {
            Optional<String> other = nodeOf.apply(address.get());
            if (other.isPresent()) {
                throw new CaptureException(404, pod + " is in the pod CIDR of node " + other.get()
                        + ", not of node " + nodeName + ": run ferry capture on " + other.get());
            }
        }
        if (found.isEmpty()) {
            String what = address.isPresent() ? "no pod has address " + pod : pod.contains("/")
                    ? "no pod " + pod : "no pod has container id " + pod;
            throw new CaptureException(404, what + " on node " + nodeName
                    + " (ferry capture runs on the node of the pod: ferry endpoint list shows this node's)");
        }
        return found.getFirst();
    }

    private static Optional<InetAddress> address(String text) {
        if (!text.contains(".") && !text.contains(":")) {
            return Optional.empty();
        }
        try {
            return Optional.of(IpPrefix.literal(text));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static String name(Endpoint e) {
        return e.podName().map(n -> e.podNamespace().orElse("") + "/" + n).orElse(e.containerId());
    }

    /**
     * Stops every capture: their readers notice within a poll interval and turn
     * them off; those whose stream never ran are turned off here.
     */
    @Override
    public void close() {
        closed = true;
        active.forEach(Capture::stop);
        Instant deadline = Instant.now().plus(Capture.pollInterval().multipliedBy(5));
        while (active.stream().anyMatch(Capture::running) && Instant.now().isBefore(deadline)) {
            try {
                Thread.sleep(Duration.ofMillis(20));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        for (Capture capture : List.copyOf(active)) {
            end(capture, -1);
        }
    }
}
