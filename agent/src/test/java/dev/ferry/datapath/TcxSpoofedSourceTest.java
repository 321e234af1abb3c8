package dev.ferry.datapath;

/** Anti-spoofing with TCX links on the pod veths. */
class TcxSpoofedSourceTest extends SpoofedSourceTest {
    @Override
    AttachMode mode() {
        return AttachMode.TCX;
    }

    @Override
    String linkPrefix() {
        return "fpx";
    }
}
