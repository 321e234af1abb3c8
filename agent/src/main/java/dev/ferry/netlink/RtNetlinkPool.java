package dev.ferry.netlink;

import dev.ferry.netns.NetNamespace;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * Sockets of one namespace for exchanges that wait in the kernel. One
 * {@link RtNetlink} serialises its calls, and deleting a veth is answered only
 * once the device is gone: {@code netdev_run_todo} waits for RCU grace periods
 * after RTNL is released, 10-20 ms in which other deletes could proceed. On a
 * shared socket concurrent DELs queue for each other's waits (DEL at concurrency
 * 8 ran at the rate of one); with a socket each, the kernel overlaps them.
 *
 * <p>Borrowed per call, opened on demand, kept for reuse up to {@link #MAX_IDLE}.
 */
public final class RtNetlinkPool implements AutoCloseable {
    /** The CNI handlers' usual concurrency; more sockets than this are closed after use. */
    static final int MAX_IDLE = 8;

    private final NetNamespace namespace;
    private final Deque<RtNetlink> idle = new ArrayDeque<>();
    private final ReentrantLock lock = new ReentrantLock();
    private boolean closed;

    public RtNetlinkPool(NetNamespace namespace) {
        this.namespace = namespace;
    }

    /** Runs {@code call} on a socket no other thread uses meanwhile. */
    public <T> T apply(Function<RtNetlink, T> call) {
        RtNetlink nl = borrow();
        try {
            return call.apply(nl);
        } finally {
            giveBack(nl);
        }
    }

    private RtNetlink borrow() {
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the netlink sockets of '" + namespace.path() + "' are closed");
            }
            RtNetlink nl = idle.pollFirst();
            if (nl != null) {
                return nl;
            }
        } finally {
            lock.unlock();
        }
        return RtNetlink.open(namespace);
    }

    private void giveBack(RtNetlink nl) {
        lock.lock();
        try {
            if (!closed && idle.size() < MAX_IDLE) {
                idle.addFirst(nl);
                return;
            }
        } finally {
            lock.unlock();
        }
        nl.close();
    }

    /** Sockets open and idle now (for tests). */
    int idle() {
        lock.lock();
        try {
            return idle.size();
        } finally {
            lock.unlock();
        }
    }

    /** Closes the idle sockets; one still borrowed is closed when it comes back. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            idle.forEach(RtNetlink::close);
            idle.clear();
        } finally {
            lock.unlock();
        }
    }
}
