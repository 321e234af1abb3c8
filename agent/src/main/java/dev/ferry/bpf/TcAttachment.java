package dev.ferry.bpf;

import dev.ferry.bpf.libbpf.BpfTcHook;
import dev.ferry.bpf.libbpf.BpfTcOpts;
import dev.ferry.bpf.libbpf.Libbpf;
import dev.ferry.linux.Errno;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * A BPF program attached as a direct-action tc filter on a device's clsact
 * qdisc: how pod veths are hooked by default (a TCX attach costs every pod
 * start an RCU grace period, dev.ferry.datapath.AttachModes), and the uplink's
 * hook on kernels without TCX. The filter is named by its
 * (ifindex, hook, handle, priority) and lives in the kernel until detached,
 * past this process: that is what lets forwarding go on across agent restarts.
 *
 * <p>Every call talks rtnetlink in the calling thread's network namespace, so
 * it must run on a thread in the device's namespace.
 */
public final class TcAttachment implements AutoCloseable {
    private final int ifindex;
    private final TcHook hook;
    private final int handle;
    private final int priority;

    private TcAttachment(int ifindex, TcHook hook, int handle, int priority) {
        this.ifindex = ifindex;
        this.hook = hook;
        this.handle = handle;
        this.priority = priority;
    }

    /**
     * Creates the clsact qdisc when missing and attaches {@code program} as the
     * filter (handle, priority), replacing the program of an existing one in place.
     */
    public static TcAttachment attach(BpfProgram program, int ifindex, TcHook hook, int handle, int priority) {
        TcAttachment attachment = new TcAttachment(ifindex, hook, check(handle, priority), priority);
        try (Arena arena = Arena.ofConfined()) {
            int err = Libbpf.bpf_tc_hook_create(attachment.hook(arena));
            if (err < 0 && err != -Errno.EEXIST) {
                throw new BpfException("failed to create the clsact qdisc of ifindex " + ifindex, err);
            }
        }
        attachment.replace(program);
        return attachment;
    }

    /** The filter (handle, priority) on {@code hook} of {@code ifindex}, when it exists. */
    public static Optional<TcAttachment> find(int ifindex, TcHook hook, int handle, int priority) {
        TcAttachment attachment = new TcAttachment(ifindex, hook, check(handle, priority), priority);
        return attachment.queryProgramId() == 0 ? Optional.empty() : Optional.of(attachment);
    }

    /**
     * Removes the clsact qdisc of {@code ifindex} with every filter on it, both
     * directions; a device without one is fine.
     */
    public static void removeClsact(int ifindex) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment hook = BpfTcHook.allocate(arena);
            BpfTcHook.ifindex(hook, ifindex);
            // Both points together is how libbpf spells "the qdisc itself", not just its filters.
            BpfTcHook.attach_point(hook, Libbpf.BPF_TC_INGRESS | Libbpf.BPF_TC_EGRESS);
            int err = Libbpf.bpf_tc_hook_destroy(hook);
            // No clsact: ENOENT on a device that never had an ingress queue, EINVAL ("cannot find
            // specified qdisc") on one that had.
            if (err < 0 && err != -Errno.ENOENT && err != -Errno.EINVAL) {
                throw new BpfException("failed to remove the clsact qdisc of ifindex " + ifindex, err);
            }
        }
    }

    public int ifindex() {
        return ifindex;
    }

    public TcHook hook() {
        return hook;
    }

    public int handle() {
        return handle;
    }

    public int priority() {
        return priority;
    }

    /** Swaps the filter's program in one netlink request (TCA replace): no packet goes unfiltered. */
    public void replace(BpfProgram program) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment opts = opts(arena);
            BpfTcOpts.prog_fd(opts, program.fd());
            BpfTcOpts.flags(opts, Libbpf.BPF_TC_F_REPLACE);
            int err = Libbpf.bpf_tc_attach(hook(arena), opts);
            if (err < 0) {
                throw new BpfException("failed to attach BPF program '" + program.name() + "' as " + this, err);
            }
        }
    }

    /** The kernel id of the filter's program. */
    public int programId() {
        int id = queryProgramId();
        if (id == 0) {
            throw new BpfException("failed to query " + this, Errno.ENOENT);
        }
        return id;
    }

    /** Deletes the filter; the clsact qdisc stays. */
    public void detach() {
        try (Arena arena = Arena.ofConfined()) {
            int err = Libbpf.bpf_tc_detach(hook(arena), opts(arena));
            if (err < 0) {
                throw new BpfException("failed to detach " + this, err);
            }
        }
    }

    /** Releases nothing: the filter persists in the kernel until {@link #detach()}. */
    @Override
    public void close() {
    }

    // 0 when there is no such filter; the kernel answers EINVAL when there is not even a clsact
    // qdisc, and ENODEV when the device itself is gone (deleted with its pod).
    private int queryProgramId() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment opts = opts(arena);
            int err = Libbpf.bpf_tc_query(hook(arena), opts);
            if (err == -Errno.ENOENT || err == -Errno.EINVAL || err == -Errno.ENODEV) {
                return 0;
            }
            if (err < 0) {
                throw new BpfException("failed to query " + this, err);
            }
            return BpfTcOpts.prog_id(opts);
        }
    }

    private MemorySegment hook(Arena arena) {
        MemorySegment segment = BpfTcHook.allocate(arena);
        BpfTcHook.ifindex(segment, ifindex);
        BpfTcHook.attach_point(segment, hook.attachPoint);
        return segment;
    }

    private MemorySegment opts(Arena arena) {
        MemorySegment opts = BpfTcOpts.allocate(arena);
        BpfTcOpts.handle(opts, handle);
        BpfTcOpts.priority(opts, priority);
        return opts;
    }

    // libbpf takes 0 as "pick one for me"; Ferry names its filters so that a restarted agent finds them.
    private static int check(int handle, int priority) {
        if (handle == 0 || priority <= 0 || priority > 0xffff) {
            throw new IllegalArgumentException("a tc filter needs a non-zero handle and a priority in 1..65535, got "
                    + "handle " + handle + ", priority " + priority);
        }
        return handle;
    }

    @Override
    public String toString() {
        return "tc filter " + Integer.toHexString(handle) + " prio " + priority + " on "
                + hook.name().toLowerCase() + " of ifindex " + ifindex;
    }
}
