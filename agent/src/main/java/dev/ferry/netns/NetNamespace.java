package dev.ferry.netns;

import dev.ferry.linux.Errno;
import dev.ferry.linux.Libc;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A network namespace, held open by a file descriptor, that work can be run in.
 *
 * <p>setns(2) changes the namespace of the calling thread only, so tasks run on
 * platform threads of their own (a virtual thread could move between carriers)
 * that enter the namespace, run the task and go back to the agent's namespace
 * before they report the result or take another task. Starting a thread per
 * task cost about a millisecond of every CNI ADD; a thread that cannot go back
 * is retired instead of reused. Sockets, netlink sockets and BPF attach calls
 * made by the task belong to the namespace for their whole life.
 */
public final class NetNamespace implements AutoCloseable {
    /** The namespace the agent was started in; every hop returns here. */
    private static final NetNamespace HOME = open(Path.of("/proc/self/ns/net"));
    private static final Logger log = LoggerFactory.getLogger(NetNamespace.class);
    /**
     * A thread that cannot return home is retired by the exception it ends with
     * (see {@link #hop}); the handler makes that one log line instead of a stack
     * trace on stderr, where it would bury the one-line reason the agent stops
     * with (an agent without CAP_SYS_ADMIN can neither leave nor return).
     */
    private static final ExecutorService HOPPERS = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS,
            new SynchronousQueue<>(), Thread.ofPlatform().name("netns-hop-", 0).daemon(true)
                    .uncaughtExceptionHandler((thread, e) -> log.error("event=netns_thread_retired thread={} reason=\"{}{}\"",
                            thread.getName(), e.getMessage(), e.getCause() == null ? "" : ": " + e.getCause().getMessage()))
                    .factory());

    private final Path path;
    private final int fd;
    private boolean closed;

    private NetNamespace(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    /**
     * Opens a namespace by a path such as {@code /run/netns/NAME} or
     * {@code /proc/PID/ns/net}, and makes sure it is one: the path comes from the
     * runtime (CNI_NETNS), and a FIFO there would block a plain open forever
     * (O_NONBLOCK opens it at once), a file or another kind of namespace would
     * fail later, further from the cause.
     *
     * @throws Errno when the path cannot be opened or is not a network namespace
     */
    public static NetNamespace open(Path path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            int fd = Libc.open(state, arena.allocateFrom(path.toString()), Libc.O_RDONLY | Libc.O_CLOEXEC | Libc.O_NONBLOCK);
            if (fd < 0) {
                int errno = Libc.errno(state);
                // /proc/PID/ns/net passes the kernel's ptrace access check: another user's process needs CAP_SYS_PTRACE.
                throw new Errno("failed to open network namespace '" + path + "'", errno,
                        errno == Errno.EACCES && path.startsWith("/proc/") ? "a process of another user: needs CAP_SYS_PTRACE" : null);
            }
            int type = Libc.ioctl(state, fd, Libc.NS_GET_NSTYPE, 0);
            if (type != Libc.CLONE_NEWNET) {
                int errno = type < 0 ? Libc.errno(state) : Errno.EINVAL;
                Libc.close(state, fd);
                throw new Errno("failed to open network namespace '" + path + "': "
                        + (type < 0 ? "not a namespace file" : "a namespace, but not a network namespace"), errno);
            }
            return new NetNamespace(path, fd);
        }
    }

    /** Opens the namespace under {@code /run/netns} that {@code ip netns add NAME} made. */
    public static NetNamespace named(String name) {
        return open(Path.of("/run/netns", name));
    }

    public Path path() {
        return path;
    }

    /** The open descriptor, for calls that name a namespace by fd (IFLA_NET_NS_FD); valid until close. */
    public int fd() {
        if (closed) {
            throw new IllegalStateException("network namespace '" + path + "' is closed");
        }
        return fd;
    }

    /** Runs {@code task} inside this namespace and returns its result; its exceptions propagate unchanged. */
    public <T> T call(Callable<T> task) throws Exception {
        try {
            return hop(task).get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception ex) {
                throw ex;
            }
            throw (Error) cause;
        }
    }

    /** {@link #call} for tasks that throw no checked exception. */
    public <T> T run(java.util.function.Supplier<T> task) {
        try {
            return call(task::get);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private <T> CompletableFuture<T> hop(Callable<T> task) {
        if (closed) {
            throw new IllegalStateException("network namespace '" + path + "' is closed");
        }
        CompletableFuture<T> result = new CompletableFuture<>();
        HOPPERS.execute(() -> {
            T value = null;
            Throwable failure = null;
            try {
                enter(this);
                value = task.call();
            } catch (Throwable t) {
                failure = t;
            }
            Errno stranded = null;
            try {
                enter(HOME);
            } catch (Errno e) {
                stranded = e;
            }
            // Completed at home: dependent stages may run on this thread.
            if (failure != null) {
                result.completeExceptionally(failure);
            } else {
                result.complete(value);
            }
            if (stranded != null) {
                throw new IllegalStateException("thread retired: it cannot return to " + HOME.path, stranded);
            }
        });
        return result;
    }

    /** {@link #call} for tasks without a result. */
    public void execute(Runnable task) {
        run(() -> {
            task.run();
            return null;
        });
    }

    private static void enter(NetNamespace ns) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            if (Libc.setns(state, ns.fd(), Libc.CLONE_NEWNET) != 0) {
                int errno = Libc.errno(state);
                throw new Errno("failed to enter network namespace '" + ns.path + "'", errno,
                        errno == Errno.EPERM ? "needs CAP_SYS_ADMIN" : null);
            }
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try (Arena arena = Arena.ofConfined()) {
            Libc.close(Libc.callState(arena), fd);
        }
    }

    @Override
    public String toString() {
        return "netns " + path;
    }
}
