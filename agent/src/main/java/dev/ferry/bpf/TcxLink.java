package dev.ferry.bpf;

import dev.ferry.bpf.libbpf.Bpf;
import dev.ferry.bpf.libbpf.BpfLinkInfo;
import dev.ferry.linux.Errno;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A BPF program attached to a device's TCX hook through a BPF link (Linux >= 6.6).
 *
 * <p>The link lives as long as an fd or a pin refers to it: {@link #close()}
 * of an unpinned link detaches the program, a pinned link stays attached after
 * the process exits. A new agent reopens it by its pin and swaps the program
 * with {@link #update}, without a moment where the device runs no program.
 */
public final class TcxLink implements AutoCloseable {
    private final int fd;
    private final String description;
    private volatile boolean closed;

    private TcxLink(int fd, String description) {
        this.fd = fd;
        this.description = description;
    }

    /**
     * Attaches {@code program} to {@code hook} of the device {@code ifindex}. An
     * ifindex is per network namespace: call this on a thread in the device's namespace.
     */
    public static TcxLink attach(BpfProgram program, int ifindex, TcxHook hook) {
        // Debian's libbpf 1.1 predates bpf_program__attach_tcx, but its bpf_link_create passes TCX through.
        int fd = Bpf.bpf_link_create(program.fd(), ifindex, hook.attachType, MemorySegment.NULL);
        String description = "TCX " + hook.name().toLowerCase() + " link of program '" + program.name()
                + "' on ifindex " + ifindex;
        if (fd < 0) {
            throw new BpfException("failed to attach BPF program '" + program.name() + "' to TCX "
                    + hook.name().toLowerCase() + " of ifindex " + ifindex, fd);
        }
        return new TcxLink(fd, description);
    }

    /** Opens the link pinned at {@code pin}. */
    public static TcxLink openPinned(Path pin) {
        return openPinnedIfExists(pin).orElseThrow(() ->
                new BpfException("failed to open pinned TCX link '" + pin + "'", Errno.ENOENT));
    }

    /** Opens the link pinned at {@code pin}, or nothing when no pin is there. */
    public static Optional<TcxLink> openPinnedIfExists(Path pin) {
        int fd = BpfFds.openPinned(pin);
        if (fd == -Errno.ENOENT) {
            return Optional.empty();
        }
        if (fd < 0) {
            throw new BpfException("failed to open pinned TCX link '" + pin + "'", fd);
        }
        BpfFds.requireKind(fd, BpfFds.LINK, pin);
        TcxLink link = new TcxLink(fd, "TCX link pinned at '" + pin + "'");
        try (Arena arena = Arena.ofConfined()) {
            int type = BpfLinkInfo.type(link.info(arena));
            if (type != Bpf.BPF_LINK_TYPE_TCX) {
                throw new BpfException("'" + pin + "' holds a BPF link of type " + type + ", not a TCX link",
                        Errno.EINVAL);
            }
        } catch (RuntimeException e) {
            link.close();
            throw e;
        }
        return Optional.of(link);
    }

    /** Pins the link at {@code pin} on bpffs, creating the directories above it. */
    public void pin(Path pin) {
        ensureOpen();
        BpfFds.pin(fd, pin, description);
    }

    /** Removes the pin at {@code pin}; a missing pin is fine. The link goes when no fd refers to it either. */
    public static void unpin(Path pin) {
        try {
            Files.deleteIfExists(pin);
        } catch (IOException e) {
            throw new UncheckedIOException("failed to unpin '" + pin + "'", e);
        }
    }

    /** Replaces the attached program atomically: every packet sees either the old or the new one. */
    public void update(BpfProgram newProgram) {
        ensureOpen();
        int err = Bpf.bpf_link_update(fd, newProgram.fd(), MemorySegment.NULL);
        if (err < 0) {
            throw new BpfException("failed to update " + description + " to program '" + newProgram.name() + "'",
                    err);
        }
    }

    /** The kernel id of the program the link runs now. */
    public int programId() {
        try (Arena arena = Arena.ofConfined()) {
            return BpfLinkInfo.prog_id(info(arena));
        }
    }

    /** The device the link is attached to; 0 once the link is detached or its device deleted. */
    public int ifindex() {
        try (Arena arena = Arena.ofConfined()) {
            return BpfLinkInfo.tcx_ifindex(info(arena));
        }
    }

    /** Detaches the program from the device now, pinned or not; the link object stays, attached to nothing. */
    public void detach() {
        ensureOpen();
        int err = Bpf.bpf_link_detach(fd);
        if (err < 0) {
            throw new BpfException("failed to detach " + description, err);
        }
    }

    private MemorySegment info(Arena arena) {
        ensureOpen();
        return BpfFds.info(arena, fd, BpfLinkInfo.LAYOUT, description);
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(description + " is closed");
        }
    }

    /** Closes this process's fd. A pinned link stays attached; an unpinned one is detached with its last fd. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        BpfFds.close(fd);
    }

    @Override
    public String toString() {
        return description;
    }
}
