package dev.ferry.datapath;

import java.util.List;

/** IPv6 forwarding with the clsact + tc filter hooks (the pods' default). */
class TcIpv6ForwardingTest extends Ipv6ForwardingTest {
    @Override
    AttachMode mode() {
        return AttachMode.TC;
    }

    @Override
    List<String> linkPrefixes() {
        return List.of("f6a", "f6b");
    }
}
