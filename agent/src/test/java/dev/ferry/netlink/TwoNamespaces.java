package dev.ferry.netlink;

import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * A "node" namespace and a "pod" namespace per test, each with an RtNetlink
 * socket, so that nothing ever touches the host's own namespace. Both are
 * deleted after each test, pass or fail, and everything inside goes with them.
 */
abstract class TwoNamespaces {
    protected TestNetns host;
    protected TestNetns pod;
    protected RtNetlink nl;
    protected RtNetlink podNl;
    protected final String hostName = Ip.linkName("h");

    @BeforeEach
    void createNamespaces() {
        host = TestNetns.create("fnl");
        pod = TestNetns.create("fnl");
        nl = RtNetlink.open(host.handle());
        podNl = RtNetlink.open(pod.handle());
    }

    @AfterEach
    void deleteNamespaces() {
        closeAll(podNl, nl, pod, host);
    }

    /** Closes each in turn, even when an earlier one fails; the first failure is rethrown. */
    static void closeAll(AutoCloseable... resources) {
        RuntimeException failure = null;
        for (AutoCloseable r : resources) {
            try {
                if (r != null) {
                    r.close();
                }
            } catch (Exception e) {
                if (failure == null) {
                    failure = new IllegalStateException("clean-up failed", e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** A veth pair with its peer "eth0" in the pod namespace, both ends up; returns the host end. */
    protected Link plumbVeth() {
        Link hostEnd = nl.createVeth(VethPair.of(hostName, "eth0"), pod.handle());
        nl.setLinkUp(hostEnd.index());
        podNl.setLinkUp(podNl.link("eth0").orElseThrow().index());
        return nl.link(hostEnd.index()).orElseThrow();
    }

    protected int podEth0() {
        return podNl.link("eth0").orElseThrow().index();
    }
}
