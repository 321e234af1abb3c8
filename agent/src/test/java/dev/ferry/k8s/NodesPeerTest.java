package dev.ferry.k8s;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.ferry.net.IpPrefix;
import dev.ferry.routes.Peer;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which of another Node's pod CIDRs become routes, and via which of its InternalIPs. */
class NodesPeerTest {

    private static Node node(List<String> podCidrs, String... internalIps) {
        NodeBuilder b = new NodeBuilder().withNewMetadata().withName("node-b").endMetadata()
                .withNewSpec().withPodCIDR(podCidrs.getFirst()).withPodCIDRs(podCidrs).endSpec();
        var status = b.withNewStatus();
        for (String ip : internalIps) {
            status = status.addNewAddress().withType("InternalIP").withAddress(ip).endAddress();
        }
        return status.endStatus().build();
    }

    @Test
    void aDualStackNodesCidrsAreRoutedEachViaItsInternalIpOfThatFamily() {
        Peer peer = Nodes.peer(node(List.of("10.9.2.0/24", "fd00:f17:2::/64"), "192.168.9.2", "fd00:f17:9::2")).orElseThrow();

        assertEquals(IpPrefix.literal("192.168.9.2"), peer.via(IpPrefix.parse("10.9.2.0/24")));
        assertEquals(IpPrefix.literal("fd00:f17:9::2"), peer.via(IpPrefix.parse("fd00:f17:2::/64")));
    }

    @Test
    void aDualStackNodeWithOnlyAnIpv4InternalIpHasOnlyItsIpv4CidrRouted() {
        Peer peer = Nodes.peer(node(List.of("10.9.2.0/24", "fd00:f17:2::/64"), "192.168.9.2")).orElseThrow();

        assertEquals(List.of(IpPrefix.parse("10.9.2.0/24")), peer.podCidrs());
    }

    @Test
    void aDualStackNodeWithOnlyAnIpv6InternalIpHasOnlyItsIpv6CidrRoutedAndAWarningNamesTheMissingFamily() {
        Logger logger = (Logger) LoggerFactory.getLogger(Nodes.class);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        try {
            Peer peer = Nodes.peer(node(List.of("10.9.2.0/24", "fd00:f17:2::/64"), "fd00:f17:9::2")).orElseThrow();

            assertEquals(List.of(IpPrefix.parse("fd00:f17:2::/64")), peer.podCidrs());
            assertEquals(List.of("event=peer_pod_cidr_skipped peer=node-b pod_cidr=10.9.2.0/24"
                            + " why=\"the Node has no IPv4 InternalIP to route it via\""),
                    appender.list.stream().map(ILoggingEvent::getFormattedMessage).toList());
        } finally {
            logger.detachAppender(appender);
        }
    }

    @Test
    void anIpv6OnlyNodeIsRoutedViaItsIpv6InternalIp() {
        Peer peer = Nodes.peer(node(List.of("fd00:f17:2::/64"), "fd00:f17:9::2")).orElseThrow();

        assertEquals(List.of(IpPrefix.parse("fd00:f17:2::/64")), peer.podCidrs());
        assertEquals(List.of(IpPrefix.literal("fd00:f17:9::2")), peer.addresses());
    }

    @Test
    void anIpv6OnlyNodeWithOnlyAnIpv4InternalIpIsNoPeer() {
        assertEquals(Optional.empty(), Nodes.peer(node(List.of("fd00:f17:2::/64"), "192.168.9.2")));
    }

    @Test
    void clusterCidrsFromNodesStayIpv4() {
        assertEquals(List.of(IpPrefix.parse("10.9.2.0/24")),
                Nodes.podCidrs(node(List.of("10.9.2.0/24", "fd00:f17:2::/64"), "192.168.9.2")));
    }
}
