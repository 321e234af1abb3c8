package dev.ferry.capture;

import dev.ferry.api.ApiStream;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;

/**
 * One running capture: its slot, its device and its socket, streamed to the
 * client as pcap (microsecond timestamps, Ethernet frames) until the count or
 * the duration is reached, the client goes away, or the agent stops. Whatever
 * ends it, {@link Captures#end} turns it off.
 */
final class Capture implements ApiStream {
    static final String CONTENT_TYPE = "application/vnd.tcpdump.pcap";
    /** The pod's name (namespace/name, else its container id) and addresses, for the CLI's one-line view. */
    static final String POD_HEADER = "Ferry-Capture-Pod";
    static final String ADDRESSES_HEADER = "Ferry-Capture-Addresses";
    /** tcpdump's default snap length: a whole GSO frame fits. */
    static final int SNAPLEN = 262144;
    private static final long SLOW_READER_WAIT_NANOS = 1_000_000;

    final int id;
    final int slot;
    final String pod;
    final List<InetAddress> addresses;
    final int hostIfindex;
    final CaptureRequest request;
    final CaptureDevice device;
    final PacketSocket socket;
    private final Captures owner;
    private volatile boolean stopping;
    private volatile boolean running;
    private long packets;

    Capture(int id, int slot, String pod, List<InetAddress> addresses, int hostIfindex, CaptureRequest request,
            CaptureDevice device, PacketSocket socket, Captures owner) {
        this.id = id;
        this.slot = slot;
        this.pod = pod;
        this.addresses = List.copyOf(addresses);
        this.hostIfindex = hostIfindex;
        this.request = request;
        this.device = device;
        this.socket = socket;
        this.owner = owner;
    }

    @Override
    public Map<String, String> headers() {
        return Map.of(POD_HEADER, pod,
                ADDRESSES_HEADER, addresses.stream().map(InetAddress::getHostAddress).collect(Collectors.joining(",")));
    }

    /**
     * Reads and streams on a thread of its own: a platform thread, since it
     * inherits the calling thread's network namespace and blocks in recvfrom.
     */
    @Override
    public void start(StreamSink sink) {
        AtomicBoolean gone = new AtomicBoolean();
        sink.onEnd(() -> gone.set(true));
        Thread.ofPlatform().daemon().name("ferry-capture-" + id).start(() -> {
            try {
                run(chunk -> send(sink, gone, chunk), () -> !gone.get());
            } finally {
                sink.end();
            }
        });
    }

    /** Where the pcap goes: blocking writes, false once the client is gone. */
    private interface PcapOut {
        boolean write(byte[] bytes);
    }

    /**
     * Offers a chunk until the client takes it: a capture waits for a slow reader
     * (the packet socket's buffer drops meanwhile, as tcpdump's does) rather than
     * lose a record from the middle of the pcap.
     */
    private static boolean send(StreamSink sink, AtomicBoolean gone, byte[] chunk) {
        while (!sink.offer(chunk)) {
            if (gone.get()) {
                return false;
            }
            LockSupport.parkNanos(SLOW_READER_WAIT_NANOS);
        }
        return true;
    }

    private void run(PcapOut sink, java.util.function.BooleanSupplier open) {
        running = true;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(SNAPLEN);
            Instant deadline = request.duration().isZero() ? null : Instant.now().plus(request.duration());
            if (!sink.write(pcapHeader())) {
                return;
            }
            while (!stopping && open.getAsBoolean()) {
                if (deadline != null && !Instant.now().isBefore(deadline)) {
                    return;
                }
                long length = socket.receive(buffer);
                if (length < 0) {
                    continue;
                }
                if (!sink.write(record(Instant.now(), PacketSocket.bytes(buffer, length), length))) {
                    return;
                }
                packets++;
                if (request.count() > 0 && packets >= request.count()) {
                    return;
                }
            }
        } finally {
            owner.end(this, packets);
        }
    }

    /** Asks the reader to stop (agent stopping); it notices within one poll interval. */
    void stop() {
        stopping = true;
    }

    boolean running() {
        return running;
    }

    static Duration pollInterval() {
        return Duration.ofMillis(PacketSocket.POLL_MILLIS);
    }

    static byte[] pcapHeader() {
        ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0xa1b2c3d4).putShort((short) 2).putShort((short) 4).putInt(0).putInt(0).putInt(SNAPLEN).putInt(1);
        return b.array();
    }

    static byte[] record(Instant time, byte[] frame, long originalLength) {
        ByteBuffer b = ByteBuffer.allocate(16 + frame.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt((int) time.getEpochSecond()).putInt(time.getNano() / 1000)
                .putInt(frame.length).putInt((int) Math.min(originalLength, Integer.MAX_VALUE)).put(frame);
        return b.array();
    }
}
