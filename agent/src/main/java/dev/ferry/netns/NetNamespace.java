package dev.ferry.netns;

import dev.ferry.linux.Errno;
import dev.ferry.linux.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * A network namespace, held open by a file descriptor, that work can be run in.
 *
 * <p>setns(2) changes the namespace of the calling thread only, so every task
 * runs on a fresh platform thread that enters the namespace and then dies; no
 * pooled thread and no virtual thread (which could move between carriers) is
 * ever left in a foreign namespace. Sockets, netlink sockets and BPF attach
 * calls made by the task belong to the namespace for their whole life.
 */
public final class NetNamespace implements AutoCloseable {
    private final Path path;
    private final int fd;
    private boolean closed;

    private NetNamespace(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    /** Opens a namespace by a path such as {@code /run/netns/NAME} or {@code /proc/PID/ns/net}. */
    public static NetNamespace open(Path path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            int fd = Libc.open(state, arena.allocateFrom(path.toString()), Libc.O_RDONLY | Libc.O_CLOEXEC);
            if (fd < 0) {
                throw new Errno("failed to open network namespace '" + path + "'", Libc.errno(state));
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
        if (closed) {
            throw new IllegalStateException("network namespace '" + path + "' is closed");
        }
        FutureTask<T> future = new FutureTask<>(() -> {
            enter();
            return task.call();
        });
        Thread thread = Thread.ofPlatform()
                .name("netns-" + path.getFileName())
                .daemon(true)
                .start(future);
        try {
            return future.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception ex) {
                throw ex;
            }
            throw (Error) cause;
        } finally {
            thread.join();
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

    /**
     * Starts {@code task} inside this namespace on its own platform thread and
     * returns at once, for work that can overlap with the caller's (a TCX attach
     * waits out an RCU grace period). The future fails with the task's exception.
     */
    public <T> CompletableFuture<T> submit(java.util.function.Supplier<T> task) {
        if (closed) {
            throw new IllegalStateException("network namespace '" + path + "' is closed");
        }
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread.ofPlatform().name("netns-" + path.getFileName()).daemon(true).start(() -> {
            try {
                enter();
                result.complete(task.get());
            } catch (Throwable t) {
                result.completeExceptionally(t);
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

    private void enter() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            if (Libc.setns(state, fd, Libc.CLONE_NEWNET) != 0) {
                throw new Errno("failed to enter network namespace '" + path + "'", Libc.errno(state));
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
