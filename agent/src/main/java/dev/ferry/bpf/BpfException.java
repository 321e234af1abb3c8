package dev.ferry.bpf;

import dev.ferry.bpf.libbpf.Libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A failed libbpf or bpf(2) call: the operation in Ferry's words ("failed to
 * load BPF object 'ferry'"), errno, libbpf's message for it and, for loads, the
 * tail of what libbpf and the verifier logged during the call.
 */
public class BpfException extends RuntimeException {
    private final String operation;
    private final int errno;
    private final String libbpfMessage;
    private final String log;

    public BpfException(String operation, int errno) {
        this(operation, errno, "");
    }

    /** errno may be given as libbpf returns it (negative) or as errno (positive). */
    public BpfException(String operation, int errno, String log) {
        this(operation, Math.abs(errno), strerror(Math.abs(errno)), log == null ? "" : log);
    }

    private BpfException(String operation, int errno, String libbpfMessage, String log) {
        super(operation + ": " + libbpfMessage + " (errno " + errno + ")"
                + (log.isEmpty() ? "" : "\nlibbpf log (tail):\n" + log));
        this.operation = operation;
        this.errno = errno;
        this.libbpfMessage = libbpfMessage;
        this.log = log;
    }

    public String operation() {
        return operation;
    }

    /** The positive errno (or one of libbpf's own codes, 4000 and up). */
    public int errno() {
        return errno;
    }

    public String libbpfMessage() {
        return libbpfMessage;
    }

    /** What libbpf and the verifier logged during the failed call (warnings and info), or "". */
    public String log() {
        return log;
    }

    static String strerror(int errno) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            // On an unknown code libbpf still writes "Unknown libbpf error N"; the return only says so.
            Libbpf.libbpf_strerror(errno, buf, buf.byteSize());
            return buf.getString(0);
        }
    }
}
