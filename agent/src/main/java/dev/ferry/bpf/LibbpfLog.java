package dev.ferry.bpf;

import dev.ferry.bpf.libbpf.Libbpf;
import dev.ferry.bpf.libbpf.Stdio;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Routes libbpf's print callback to the SLF4J logger {@code dev.ferry.bpf.libbpf}
 * (WARN, INFO, DEBUG as libbpf grades them), and lets a caller capture what
 * libbpf logs on its own thread during one call, so that a verifier rejection
 * can be quoted in the exception it causes.
 */
public final class LibbpfLog {
    private LibbpfLog() {}

    public static final String LOGGER_NAME = "dev.ferry.bpf.libbpf";
    private static final Logger LOG = LoggerFactory.getLogger(LOGGER_NAME);

    // x86-64 SysV: va_list is a one-element array of a 24-byte struct, so it arrives as a pointer
    // and va_copy is a plain copy of those 24 bytes. Other ABIs pass it differently.
    private static final boolean VA_LIST_IS_POINTER = System.getProperty("os.arch").equals("amd64");
    private static final long VA_LIST_SIZE = 24;
    private static final int FIRST_TRY = 1024;

    private static final ThreadLocal<Capture> CAPTURE = new ThreadLocal<>();
    private static final Object LOCK = new Object();
    private static volatile boolean installed;

    /** Installs the callback; later calls do nothing. Safe from any thread. */
    public static void install() {
        if (installed) {
            return;
        }
        synchronized (LOCK) {
            if (installed) {
                return;
            }
            MethodHandle target;
            try {
                target = MethodHandles.lookup().findStatic(LibbpfLog.class, "print",
                        MethodType.methodType(int.class, int.class, MemorySegment.class, MemorySegment.class));
            } catch (ReflectiveOperationException e) {
                throw new AssertionError(e);
            }
            // libbpf may call back at any time for the rest of the process's life.
            MemorySegment stub = Linker.nativeLinker().upcallStub(target, Libbpf.libbpf_print_fn_t, Arena.global());
            Libbpf.libbpf_set_print(stub);
            installed = true;
        }
    }

    /**
     * Starts collecting the WARN and INFO messages libbpf prints on this thread
     * until the capture is closed. Captures nest.
     */
    static Capture capture() {
        install();
        Capture capture = new Capture(CAPTURE.get());
        CAPTURE.set(capture);
        return capture;
    }

    /** The upcall. An exception escaping an upcall kills the JVM, so none may. */
    private static int print(int level, MemorySegment format, MemorySegment args) {
        try {
            Capture capture = CAPTURE.get();
            boolean captured = capture != null && level <= Libbpf.LIBBPF_INFO;
            boolean logged = switch (level) {
                case Libbpf.LIBBPF_WARN -> LOG.isWarnEnabled();
                case Libbpf.LIBBPF_INFO -> LOG.isInfoEnabled();
                default -> LOG.isDebugEnabled();
            };
            if (!captured && !logged) {
                return 0;
            }
            String message = format(format, args);
            if (captured) {
                capture.append(message);
            }
            if (logged) {
                String line = message.stripTrailing();
                switch (level) {
                    case Libbpf.LIBBPF_WARN -> LOG.warn(line);
                    case Libbpf.LIBBPF_INFO -> LOG.info(line);
                    default -> LOG.debug(line);
                }
            }
        } catch (Throwable t) {
            try {
                LOG.error("cannot log a libbpf message", t);
            } catch (Throwable ignored) {
                // Nothing left to report with; dropping one log line beats a crashed JVM.
            }
        }
        return 0;
    }

    private static String format(MemorySegment format, MemorySegment args) {
        MemorySegment fmt = format.reinterpret(Long.MAX_VALUE);
        if (!VA_LIST_IS_POINTER) {
            return fmt.getString(0);
        }
        try (Arena arena = Arena.ofConfined()) {
            // vsnprintf consumes the va_list; keep a copy for the second try with a buffer that fits.
            MemorySegment argsCopy = arena.allocate(VA_LIST_SIZE, 8).copyFrom(args.reinterpret(VA_LIST_SIZE));
            MemorySegment buf = arena.allocate(FIRST_TRY);
            int n = Stdio.vsnprintf(buf, FIRST_TRY, format, args);
            if (n < 0) {
                return fmt.getString(0);
            }
            if (n >= FIRST_TRY) {
                buf = arena.allocate(n + 1L);
                Stdio.vsnprintf(buf, n + 1L, format, argsCopy);
            }
            return buf.getString(0);
        }
    }

    /** The tail of what libbpf printed on one thread while the capture was open. */
    static final class Capture implements AutoCloseable {
        // Enough for the verifier's complaint and the few lines libbpf adds after it.
        private static final int TAIL_CHARS = 4096;

        private final Capture previous;
        private final StringBuilder text = new StringBuilder();

        private Capture(Capture previous) {
            this.previous = previous;
        }

        private void append(String message) {
            text.append(message);
            if (text.length() > 4 * TAIL_CHARS) {
                text.delete(0, text.length() - TAIL_CHARS);
            }
        }

        /** The last few KiB, starting at a line boundary where one is near. */
        String tail() {
            if (text.length() <= TAIL_CHARS) {
                return text.toString().stripTrailing();
            }
            int start = text.length() - TAIL_CHARS;
            int newline = text.indexOf("\n", start);
            if (newline >= 0 && newline < text.length() - 1) {
                start = newline + 1;
            }
            return text.substring(start).stripTrailing();
        }

        @Override
        public void close() {
            if (previous != null) {
                previous.append(text.toString());
                CAPTURE.set(previous);
            } else {
                CAPTURE.remove();
            }
        }
    }
}
