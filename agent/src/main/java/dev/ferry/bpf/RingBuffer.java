package dev.ferry.bpf;

import dev.ferry.bpf.libbpf.Libbpf;
import dev.ferry.linux.Errno;
import dev.ferry.linux.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A reader of a BPF ring buffer map (libbpf's {@code ring_buffer}). Records are
 * copied out in libbpf's callback and handed back by {@link #poll} as byte
 * arrays, so no Ferry code runs inside the upcall but a copy: an exception
 * escaping an upcall would kill the JVM.
 *
 * <p>Owned by one thread: the one that polls closes it. libbpf's ring_buffer is
 * not thread-safe, and freeing it under a poll would free what epoll_wait uses.
 */
public final class RingBuffer implements AutoCloseable {
    private static final MethodHandle SAMPLE;

    static {
        try {
            SAMPLE = MethodHandles.lookup().findVirtual(RingBuffer.class, "sample",
                    MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class, long.class));
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    private final String name;
    private final Arena arena;
    private final int maxRecordBytes;
    private MemorySegment rb = MemorySegment.NULL; // set once libbpf made it, after the stub it calls
    private List<byte[]> batch = new ArrayList<>();
    private boolean closed;

    private RingBuffer(String name, Arena arena, int maxRecordBytes) {
        this.name = name;
        this.arena = arena;
        this.maxRecordBytes = maxRecordBytes;
    }

    /** Opens a reader of {@code map}, which must be a BPF_MAP_TYPE_RINGBUF; records longer than {@code maxRecordBytes} are cut. */
    public static RingBuffer open(BpfMap map, int maxRecordBytes) {
        Arena arena = Arena.ofShared();
        try {
            RingBuffer reader = new RingBuffer(map.name(), arena, maxRecordBytes);
            MemorySegment stub = Linker.nativeLinker().upcallStub(SAMPLE.bindTo(reader), Libbpf.ring_buffer_sample_fn, arena);
            try (Arena call = Arena.ofConfined()) {
                MemorySegment state = Libc.callState(call);
                MemorySegment rb = Libbpf.ring_buffer__new(state, map.fd(), stub, MemorySegment.NULL, MemorySegment.NULL);
                if (rb.equals(MemorySegment.NULL)) {
                    int errno = Libc.errno(state);
                    throw new BpfException("failed to open a reader of ring buffer '" + map.name() + "'",
                            errno == 0 ? Errno.EINVAL : errno);
                }
                reader.rb = rb;
            }
            return reader;
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Waits up to {@code timeoutMillis} for records and returns those consumed
     * (empty when none came); interrupted waits return what there is.
     */
    public List<byte[]> poll(int timeoutMillis) {
        ensureOpen();
        int n = Libbpf.ring_buffer__poll(rb, timeoutMillis);
        if (n < 0 && n != -Libc.EINTR) {
            throw new BpfException("failed to poll ring buffer '" + name + "'", n);
        }
        return takeBatch();
    }

    /** Consumes, without waiting, every record there is now. */
    public List<byte[]> drain() {
        ensureOpen();
        int n = Libbpf.ring_buffer__consume(rb);
        if (n < 0) {
            throw new BpfException("failed to consume ring buffer '" + name + "'", n);
        }
        return takeBatch();
    }

    private List<byte[]> takeBatch() {
        List<byte[]> records = batch;
        batch = new ArrayList<>();
        return records;
    }

    /** The upcall: copies the record. Never throws (an escaping exception kills the JVM). */
    private int sample(MemorySegment ctx, MemorySegment data, long size) {
        try {
            int length = (int) Math.min(size, maxRecordBytes);
            batch.add(data.reinterpret(length).toArray(JAVA_BYTE));
        } catch (Throwable t) {
            // A record lost beats a crashed JVM; the caller's counts show the gap.
        }
        return 0;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the reader of ring buffer '" + name + "' is closed");
        }
    }

    /** Frees the reader (its epoll fd and mappings) and the upcall stub; the map stays. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Libbpf.ring_buffer__free(rb);
        arena.close();
    }
}
