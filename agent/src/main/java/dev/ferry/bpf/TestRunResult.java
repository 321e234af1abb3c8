package dev.ferry.bpf;

/**
 * Output of one BPF_PROG_TEST_RUN.
 *
 * @param retval     what the program returned (TC_ACT_*), from its last run
 * @param packet     the frame as the program left it
 * @param durationNs average time of one run, in nanoseconds
 */
public record TestRunResult(int retval, byte[] packet, int durationNs) {
    public TestRunResult {
        packet = packet.clone();
    }

    @Override
    public byte[] packet() {
        return packet.clone();
    }
}
