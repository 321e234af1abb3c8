package dev.ferry.datapath;

/** Anti-spoofing with clsact + tc filter on the pod veths (the default for pods). */
class TcSpoofedSourceTest extends SpoofedSourceTest {
    @Override
    AttachMode mode() {
        return AttachMode.TC;
    }

    @Override
    String linkPrefix() {
        return "fpt";
    }
}
