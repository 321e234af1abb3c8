package dev.ferry.datapath;

/** Same-node forwarding with the clsact + tc filter fallback for kernels without TCX. */
class TcSameNodeForwardingTest extends SameNodeForwardingTest {
    @Override
    AttachMode mode() {
        return AttachMode.TC;
    }

    @Override
    String linkPrefix() {
        return "fsc";
    }
}
