package dev.ferry.bpf;

import dev.ferry.bpf.libbpf.BpfObjectOpenOpts;
import dev.ferry.bpf.libbpf.Libbpf;
import dev.ferry.linux.Errno;
import dev.ferry.linux.Libc;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A BPF ELF object loaded into the kernel: its programs and maps.
 *
 * <p>Maps declared with {@code __uint(pinning, LIBBPF_PIN_BY_NAME)} live at
 * {@code <pinRoot>/<map name>}: a load adopts the map pinned there (libbpf
 * refuses one whose type, sizes or flags differ) or creates and pins it. That
 * is how a restarted agent keeps its state. Closing the object closes its
 * program and map fds; pins, and links pinned elsewhere, stay.
 */
public final class BpfObject implements AutoCloseable {
    private final String name;
    private final MemorySegment object;
    // libbpf reads the ELF image in place (it does not copy it), so it lives as long as the object.
    private final Arena elfArena;
    private final Map<String, BpfProgram> programs = new HashMap<>();
    private final Map<String, BpfMap> maps = new HashMap<>();
    private volatile boolean closed;

    private BpfObject(String name, MemorySegment object, Arena elfArena) {
        this.name = name;
        this.object = object;
        this.elfArena = elfArena;
    }

    /** Opens {@code elf} from memory under the name {@code objectName} and loads it into the kernel. */
    public static BpfObject load(String objectName, byte[] elf, Path pinRoot) {
        Objects.requireNonNull(objectName, "objectName");
        Objects.requireNonNull(elf, "elf");
        Objects.requireNonNull(pinRoot, "pinRoot");
        LibbpfLog.install();
        try {
            Files.createDirectories(pinRoot);
        } catch (IOException e) {
            throw new UncheckedIOException("failed to create pin root '" + pinRoot + "' for BPF object '"
                    + objectName + "'", e);
        }
        Arena elfArena = Arena.ofShared();
        try (Arena arena = Arena.ofConfined(); LibbpfLog.Capture log = LibbpfLog.capture()) {
            MemorySegment image = elfArena.allocateFrom(JAVA_BYTE, elf);
            MemorySegment opts = BpfObjectOpenOpts.allocate(arena);
            BpfObjectOpenOpts.object_name(opts, arena.allocateFrom(objectName));
            BpfObjectOpenOpts.pin_root_path(opts, arena.allocateFrom(pinRoot.toString()));
            MemorySegment state = Libc.callState(arena);
            MemorySegment object = Libbpf.bpf_object__open_mem(state, image, image.byteSize(), opts);
            if (object.equals(MemorySegment.NULL)) {
                throw new BpfException("failed to open BPF object '" + objectName + "'", Libc.errno(state), log.tail());
            }
            int err = Libbpf.bpf_object__load(object);
            if (err < 0) {
                Libbpf.bpf_object__close(object);
                throw new BpfException("failed to load BPF object '" + objectName + "'", err, log.tail());
            }
            return new BpfObject(objectName, object, elfArena);
        } catch (RuntimeException | Error e) {
            elfArena.close();
            throw e;
        }
    }

    public String name() {
        return name;
    }

    /** The loaded program called {@code programName} (the C function name). */
    public synchronized BpfProgram program(String programName) {
        ensureOpen();
        BpfProgram known = programs.get(programName);
        if (known != null) {
            return known;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            MemorySegment program = Libbpf.bpf_object__find_program_by_name(state, object,
                    arena.allocateFrom(programName));
            if (program.equals(MemorySegment.NULL)) {
                throw new BpfException("BPF object '" + name + "' has no program '" + programName + "'",
                        nonZero(Libc.errno(state)));
            }
            int fd = Libbpf.bpf_program__fd(program);
            if (fd < 0) {
                throw new BpfException("program '" + programName + "' of BPF object '" + name + "' is not loaded", fd);
            }
            BpfProgram loaded = new BpfProgram(this, programName, fd);
            programs.put(programName, loaded);
            return loaded;
        }
    }

    /** The map called {@code mapName}; it borrows the object's fd and needs no closing. */
    public synchronized BpfMap map(String mapName) {
        ensureOpen();
        BpfMap known = maps.get(mapName);
        if (known != null) {
            return known;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            MemorySegment map = Libbpf.bpf_object__find_map_by_name(state, object, arena.allocateFrom(mapName));
            if (map.equals(MemorySegment.NULL)) {
                throw new BpfException("BPF object '" + name + "' has no map '" + mapName + "'",
                        nonZero(Libc.errno(state)));
            }
            int fd = Libbpf.bpf_map__fd(map);
            if (fd < 0) {
                throw new BpfException("map '" + mapName + "' of BPF object '" + name + "' has no fd", fd);
            }
            BpfMap found = BpfMap.borrowed(this,
                    Libbpf.bpf_map__name(map).reinterpret(Long.MAX_VALUE).getString(0), fd,
                    Libbpf.bpf_map__type(map), Libbpf.bpf_map__key_size(map),
                    Libbpf.bpf_map__value_size(map), Libbpf.bpf_map__max_entries(map));
            maps.put(mapName, found);
            return found;
        }
    }

    boolean isClosed() {
        return closed;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("BPF object '" + name + "' is closed");
        }
    }

    // libbpf's lookups report ENOENT, but a 0 would hide that anything failed.
    private static int nonZero(int errno) {
        return errno == 0 ? Errno.ENOENT : errno;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        Libbpf.bpf_object__close(object);
        elfArena.close();
    }

    @Override
    public String toString() {
        return "BPF object '" + name + "'";
    }
}
