package dev.ferry.datapath;

/** Same-node forwarding with TCX links (Linux >= 6.6). */
class TcxSameNodeForwardingTest extends SameNodeForwardingTest {
    @Override
    AttachMode mode() {
        return AttachMode.TCX;
    }

    @Override
    String linkPrefix() {
        return "fsx";
    }
}
