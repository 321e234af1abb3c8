package dev.ferry.datapath;

import java.util.List;

/** Port reuse with client and backend on one node. Addresses 10.78.9.0/24 are this class's. */
class SameNodePortReuseTest extends PortReuseTest {
    private AttachedNode node;

    @Override
    void buildNodes() throws Exception {
        node = AttachedNode.create("fpr", AttachMode.TC, List.of("10.78.9.2", "10.78.9.3"));
        clientNode = node.topology.node;
        client = node.pod(0);
        backend = node.pod(1);
        clientNode.sysctl("net.ipv4.conf.all.forwarding", "1");
    }

    @Override
    void closeNodes() throws Exception {
        if (node != null) {
            node.close();
        }
    }
}
