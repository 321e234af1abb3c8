package dev.ferry.bpf;

import dev.ferry.bpf.libbpf.Bpf;
import dev.ferry.linux.Errno;
import dev.ferry.linux.Libc;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/** What every BPF file descriptor needs: its kind, its info, pinning, closing. */
final class BpfFds {
    private BpfFds() {}

    // The anon-inode names the kernel gives BPF objects (kernel/bpf/syscall.c); /proc/self/fd shows them.
    static final String MAP = "bpf-map";
    static final String LINK = "bpf-link";

    /** bpf_obj_get, or -errno. */
    static int openPinned(Path pin) {
        try (Arena arena = Arena.ofConfined()) {
            return Bpf.bpf_obj_get(arena.allocateFrom(pin.toString()));
        }
    }

    /**
     * A pin may hold any BPF object, and BPF_OBJ_GET_INFO_BY_FD fills a different
     * struct for each kind: check the kind before reading it as a map or a link.
     */
    static void requireKind(int fd, String kind, Path pin) {
        String target;
        try {
            target = Files.readSymbolicLink(Path.of("/proc/self/fd", Integer.toString(fd))).toString();
        } catch (IOException e) {
            close(fd);
            throw new UncheckedIOException("failed to inspect the object pinned at '" + pin + "'", e);
        }
        if (!target.equals("anon_inode:" + kind)) {
            close(fd);
            throw new BpfException("'" + pin + "' holds a " + target.replace("anon_inode:", "")
                    + ", not a " + kind, Errno.EINVAL);
        }
    }

    /** Fills {@code info} (laid out as {@code layout}) for the object behind {@code fd}. */
    static MemorySegment info(Arena arena, int fd, StructLayout layout, String what) {
        MemorySegment info = arena.allocate(layout).fill((byte) 0);
        MemorySegment infoLen = arena.allocateFrom(JAVA_INT, (int) layout.byteSize());
        int err = Bpf.bpf_obj_get_info_by_fd(fd, info, infoLen);
        if (err < 0) {
            throw new BpfException("failed to read the kernel's info on " + what, err);
        }
        return info;
    }

    static void pin(int fd, Path pin, String what) {
        try {
            Path parent = pin.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("failed to create the directory of pin '" + pin + "' for " + what, e);
        }
        try (Arena arena = Arena.ofConfined()) {
            int err = Bpf.bpf_obj_pin(fd, arena.allocateFrom(pin.toString()));
            if (err < 0) {
                throw new BpfException("failed to pin " + what + " at '" + pin + "'", err);
            }
        }
    }

    static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            if (Libc.close(state, fd) != 0) {
                throw new Errno("failed to close BPF file descriptor " + fd, Libc.errno(state));
            }
        }
    }
}
