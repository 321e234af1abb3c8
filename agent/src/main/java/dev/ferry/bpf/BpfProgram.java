package dev.ferry.bpf;

import dev.ferry.bpf.libbpf.Bpf;
import dev.ferry.bpf.libbpf.BpfProgInfo;
import dev.ferry.bpf.libbpf.BpfTestRunOpts;
import dev.ferry.bpf.libbpf.SkBuff;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/** A program of a loaded {@link BpfObject}; the object owns its fd, so this is valid while the object is open. */
public final class BpfProgram {
    // Room for what a program may add in front of or behind the packet (encapsulation, tail growth).
    private static final int OUTPUT_ROOM = 64 * 1024;

    private final BpfObject owner;
    private final String name;
    private final int fd;
    private volatile int id;

    BpfProgram(BpfObject owner, String name, int fd) {
        this.owner = owner;
        this.name = name;
        this.fd = fd;
    }

    public String name() {
        return name;
    }

    public int fd() {
        ensureOpen();
        return fd;
    }

    /** The kernel's id for this program (what bpftool and link info show). */
    public int id() {
        ensureOpen();
        if (id == 0) {
            try (Arena arena = Arena.ofConfined()) {
                id = BpfProgInfo.id(BpfFds.info(arena, fd, BpfProgInfo.LAYOUT, "program '" + name + "'"));
            }
        }
        return id;
    }

    /**
     * Runs the program on a packet in the kernel (BPF_PROG_TEST_RUN). Map
     * updates the program makes are real. With {@link TestRun#ifindex()} set,
     * call this on a thread in the namespace of that device.
     */
    public TestRunResult testRun(TestRun input) {
        ensureOpen();
        byte[] packet = input.packet();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dataIn = arena.allocateFrom(JAVA_BYTE, packet);
            int outSize = packet.length + OUTPUT_ROOM;
            MemorySegment dataOut = arena.allocate(outSize);
            MemorySegment opts = BpfTestRunOpts.allocate(arena);
            BpfTestRunOpts.data_in(opts, dataIn);
            BpfTestRunOpts.data_size_in(opts, packet.length);
            BpfTestRunOpts.data_out(opts, dataOut);
            BpfTestRunOpts.data_size_out(opts, outSize);
            BpfTestRunOpts.repeat(opts, input.repeat());
            if (input.ifindex() != 0 || input.ingressIfindex() != 0) {
                MemorySegment ctx = SkBuff.allocate(arena);
                SkBuff.ifindex(ctx, input.ifindex());
                SkBuff.ingress_ifindex(ctx, input.ingressIfindex());
                BpfTestRunOpts.ctx_in(opts, ctx);
                BpfTestRunOpts.ctx_size_in(opts, (int) SkBuff.LAYOUT.byteSize());
            }
            int err = Bpf.bpf_prog_test_run_opts(fd, opts);
            if (err < 0) {
                throw new BpfException("failed to test-run BPF program '" + name + "'", err);
            }
            int size = BpfTestRunOpts.data_size_out(opts);
            return new TestRunResult(BpfTestRunOpts.retval(opts),
                    dataOut.asSlice(0, size).toArray(JAVA_BYTE), BpfTestRunOpts.duration(opts));
        }
    }

    private void ensureOpen() {
        if (owner.isClosed()) {
            throw new IllegalStateException("program '" + name + "' belongs to closed " + owner);
        }
    }

    @Override
    public String toString() {
        return "BPF program '" + name + "' of " + owner;
    }
}
