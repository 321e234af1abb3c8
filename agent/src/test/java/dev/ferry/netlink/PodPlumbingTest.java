package dev.ferry.netlink;

import dev.ferry.net.IpPrefix;

import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.time.Duration;

import static org.awaitility.Awaitility.await;

/** A pod wired the way Ferry's CNI ADD does it, through RtNetlink only, then pinged. */
@RequiresRoot
class PodPlumbingTest extends TwoNamespaces {
    private static final InetAddress GATEWAY = IpPrefix.literal("169.254.1.1");
    private static final IpPrefix POD_IP = IpPrefix.parse("10.244.1.5/32");
    private static final IpPrefix HOST_END_IP = IpPrefix.parse("10.244.1.1/32");

    @Test
    void podPlumbedThroughRtNetlinkOnlyReachesItsHostEndAndBack() {
        Link hostEnd = nl.createVeth(VethPair.of(hostName, "eth0").mtu(1450), pod.handle());

        // Pod side, on the pod namespace's socket.
        Link eth0 = podNl.link("eth0").orElseThrow();
        podNl.addAddress(Address.of(eth0.index(), POD_IP));
        podNl.setLinkUp(eth0.index());
        podNl.addRoute(Route.to(IpPrefix.host(GATEWAY)).dev(eth0.index()).scope(Scope.LINK).protocol(Route.PROTO_FERRY));
        podNl.addRoute(Route.to(IpPrefix.DEFAULT_V4).via(GATEWAY).dev(eth0.index()).protocol(Route.PROTO_FERRY));
        podNl.replaceNeighbour(Neighbour.permanent(eth0.index(), GATEWAY, hostEnd.mac()));

        // Host side.
        nl.setLinkUp(hostEnd.index());
        nl.addAddress(Address.of(hostEnd.index(), HOST_END_IP));
        nl.addRoute(Route.to(POD_IP).dev(hostEnd.index()).scope(Scope.LINK).protocol(Route.PROTO_FERRY));
        nl.replaceNeighbour(Neighbour.permanent(hostEnd.index(), POD_IP.address(), eth0.mac()));

        await().atMost(Duration.ofSeconds(10)).until(() -> ping(pod.name(), HOST_END_IP));
        await().atMost(Duration.ofSeconds(10)).until(() -> ping(host.name(), POD_IP));
    }

    private static boolean ping(String namespace, IpPrefix target) {
        return Shell.exec("ip", "netns", "exec", namespace, "ping", "-c", "1", "-W", "1",
                target.address().getHostAddress()).ok();
    }
}
