package dev.ferry.bpf;

import dev.ferry.bpf.libbpf.Bpf;
import dev.ferry.bpf.libbpf.BpfMapInfo;
import dev.ferry.bpf.libbpf.Libbpf;
import dev.ferry.linux.Errno;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A BPF map, read and written through {@link MemorySegment}s laid out as the
 * C key and value structs. A map taken from a {@link BpfObject} borrows the
 * object's fd; one opened from a pin owns its fd and closes it on {@link #close()}.
 *
 * <p>Per-CPU maps take and return one value per possible CPU, each padded to
 * {@link #perCpuValueStride()} bytes: {@link #valueSegmentSize()} in all.
 */
public final class BpfMap implements AutoCloseable {
    // BPF_MAP_UPDATE_ELEM flags
    public static final long ANY = Bpf.BPF_ANY;
    public static final long NOEXIST = Bpf.BPF_NOEXIST;
    public static final long EXIST = Bpf.BPF_EXIST;

    // Map types (enum bpf_map_type)
    public static final int HASH = Bpf.BPF_MAP_TYPE_HASH;
    public static final int ARRAY = Bpf.BPF_MAP_TYPE_ARRAY;
    public static final int PERCPU_HASH = Bpf.BPF_MAP_TYPE_PERCPU_HASH;
    public static final int PERCPU_ARRAY = Bpf.BPF_MAP_TYPE_PERCPU_ARRAY;
    public static final int LRU_HASH = Bpf.BPF_MAP_TYPE_LRU_HASH;
    public static final int LRU_PERCPU_HASH = Bpf.BPF_MAP_TYPE_LRU_PERCPU_HASH;
    public static final int LPM_TRIE = Bpf.BPF_MAP_TYPE_LPM_TRIE;

    private static volatile int possibleCpus;

    private final BpfObject owner; // null when this map owns its fd
    private final String name;
    private final int fd;
    private final int type;
    private final int keySize;
    private final int valueSize;
    private final int maxEntries;
    private volatile boolean closed;

    private BpfMap(BpfObject owner, String name, int fd, int type, int keySize, int valueSize, int maxEntries) {
        this.owner = owner;
        this.name = name;
        this.fd = fd;
        this.type = type;
        this.keySize = keySize;
        this.valueSize = valueSize;
        this.maxEntries = maxEntries;
    }

    static BpfMap borrowed(BpfObject owner, String name, int fd, int type, int keySize, int valueSize,
                           int maxEntries) {
        return new BpfMap(owner, name, fd, type, keySize, valueSize, maxEntries);
    }

    /** Opens the map pinned at {@code pin} (bpffs); the returned map owns its fd. */
    public static BpfMap openPinned(Path pin) {
        int fd = BpfFds.openPinned(pin);
        if (fd < 0) {
            throw new BpfException("failed to open pinned BPF map '" + pin + "'", fd);
        }
        BpfFds.requireKind(fd, BpfFds.MAP, pin);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = BpfFds.info(arena, fd, BpfMapInfo.LAYOUT, "the map pinned at '" + pin + "'");
            return new BpfMap(null, BpfMapInfo.name(info), fd, BpfMapInfo.type(info), BpfMapInfo.key_size(info),
                    BpfMapInfo.value_size(info), BpfMapInfo.max_entries(info));
        } catch (RuntimeException e) {
            BpfFds.close(fd);
            throw e;
        }
    }

    /** Number of possible CPUs: the number of values a per-CPU map holds per key. */
    public static int possibleCpus() {
        int n = possibleCpus;
        if (n == 0) {
            // libbpf caches it too; the count is fixed at boot.
            n = Libbpf.libbpf_num_possible_cpus();
            if (n <= 0) {
                throw new BpfException("failed to count the possible CPUs", n == 0 ? Errno.EINVAL : n);
            }
            possibleCpus = n;
        }
        return n;
    }

    public String name() {
        return name;
    }

    public int fd() {
        ensureOpen();
        return fd;
    }

    public int type() {
        return type;
    }

    public int keySize() {
        return keySize;
    }

    public int valueSize() {
        return valueSize;
    }

    public int maxEntries() {
        return maxEntries;
    }

    public boolean isPerCpu() {
        return type == PERCPU_HASH || type == PERCPU_ARRAY || type == LRU_PERCPU_HASH
                || type == Bpf.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
    }

    /** Bytes between two CPUs' values in a per-CPU value buffer: the value size rounded up to 8. */
    public long perCpuValueStride() {
        return (valueSize + 7L) & ~7L;
    }

    /** Size of the value segment that update and lookup take: per CPU for per-CPU maps. */
    public long valueSegmentSize() {
        return isPerCpu() ? possibleCpus() * perCpuValueStride() : valueSize;
    }

    /** Inserts or replaces; {@code flags} is {@link #ANY}, {@link #NOEXIST} or {@link #EXIST}. */
    public void update(MemorySegment key, MemorySegment value, long flags) {
        ensureOpen();
        checkSize("key", key, keySize);
        checkSize("value", value, valueSegmentSize());
        try (Arena arena = Arena.ofConfined()) {
            int err = Bpf.bpf_map_update_elem(fd, NativeCopy.in(arena, key), NativeCopy.in(arena, value), flags);
            if (err < 0) {
                throw new BpfException("failed to update an element of BPF map '" + name + "'", err);
            }
        }
    }

    /** Copies the value of {@code key} into {@code valueOut}; false when there is none. */
    public boolean lookup(MemorySegment key, MemorySegment valueOut) {
        ensureOpen();
        checkSize("key", key, keySize);
        checkSize("value", valueOut, valueSegmentSize());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = NativeCopy.out(arena, valueOut);
            int err = Bpf.bpf_map_lookup_elem(fd, NativeCopy.in(arena, key), out);
            if (err == -Errno.ENOENT) {
                return false;
            }
            if (err < 0) {
                throw new BpfException("failed to look up an element of BPF map '" + name + "'", err);
            }
            NativeCopy.back(out, valueOut);
            return true;
        }
    }

    /** Deletes {@code key}; false when it was not there. */
    public boolean delete(MemorySegment key) {
        ensureOpen();
        checkSize("key", key, keySize);
        try (Arena arena = Arena.ofConfined()) {
            int err = Bpf.bpf_map_delete_elem(fd, NativeCopy.in(arena, key));
            if (err == -Errno.ENOENT) {
                return false;
            }
            if (err < 0) {
                throw new BpfException("failed to delete an element of BPF map '" + name + "'", err);
            }
            return true;
        }
    }

    /**
     * Writes the key after {@code keyOrNull} (the first key when null) into
     * {@code nextOut}; false when there is none. Iteration is not a snapshot:
     * concurrent deletes can make it restart from the first key.
     */
    public boolean nextKey(MemorySegment keyOrNull, MemorySegment nextOut) {
        ensureOpen();
        if (keyOrNull != null) {
            checkSize("key", keyOrNull, keySize);
        }
        checkSize("next key", nextOut, keySize);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = NativeCopy.out(arena, nextOut);
            MemorySegment key = keyOrNull == null ? MemorySegment.NULL : NativeCopy.in(arena, keyOrNull);
            int err = Bpf.bpf_map_get_next_key(fd, key, out);
            if (err == -Errno.ENOENT) {
                return false;
            }
            if (err < 0) {
                throw new BpfException("failed to iterate BPF map '" + name + "'", err);
            }
            NativeCopy.back(out, nextOut);
            return true;
        }
    }

    /**
     * Calls {@code visitor} once for every key, with a segment valid only during
     * the call. A key deleted under the walk restarts it from the first key; keys
     * seen before are skipped then, so none is visited twice.
     */
    public void forEachKey(Consumer<MemorySegment> visitor) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(keySize, 8);
            MemorySegment next = arena.allocate(keySize, 8);
            MemorySegment previous = null; // null: start from the first key
            Set<ByteBuffer> seen = new HashSet<>();
            while (nextKey(previous, next)) {
                key.copyFrom(next);
                previous = key;
                if (seen.add(ByteBuffer.wrap(key.toArray(JAVA_BYTE)))) {
                    visitor.accept(key);
                }
            }
        }
    }

    /** {@link #forEachKey} with each key's value (per CPU for per-CPU maps); keys deleted meanwhile are left out. */
    public void forEach(BiConsumer<MemorySegment, MemorySegment> visitor) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocate(valueSegmentSize(), 8);
            forEachKey(key -> {
                if (lookup(key, values)) {
                    visitor.accept(key, values);
                }
            });
        }
    }

    private void checkSize(String what, MemorySegment segment, long expected) {
        if (segment.byteSize() != expected) {
            throw new IllegalArgumentException("BPF map '" + name + "' takes a " + what + " of " + expected
                    + " bytes" + (isPerCpu() && what.equals("value")
                    ? " (" + possibleCpus() + " CPUs x " + perCpuValueStride() + ")" : "")
                    + ", got " + segment.byteSize());
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("BPF map '" + name + "' is closed");
        }
        if (owner != null && owner.isClosed()) {
            throw new IllegalStateException("BPF map '" + name + "' belongs to closed " + owner);
        }
    }

    /** Closes the fd when this map owns it (opened from a pin); a borrowed map is left to its object. */
    @Override
    public void close() {
        if (owner != null || closed) {
            return;
        }
        closed = true;
        BpfFds.close(fd);
    }

    @Override
    public String toString() {
        return "BPF map '" + name + "'";
    }

    /** Native calls take only native memory: heap segments go through a temporary copy. */
    private static final class NativeCopy {
        static MemorySegment in(Arena arena, MemorySegment segment) {
            return segment.isNative() ? segment : arena.allocate(segment.byteSize()).copyFrom(segment);
        }

        static MemorySegment out(Arena arena, MemorySegment segment) {
            return segment.isNative() ? segment : arena.allocate(segment.byteSize());
        }

        static void back(MemorySegment written, MemorySegment target) {
            if (written != target) {
                target.copyFrom(written);
            }
        }
    }
}
