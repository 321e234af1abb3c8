package dev.ferry.datapath;

import java.util.List;

/** IPv6 forwarding with TCX links (the uplink's default). */
class TcxIpv6ForwardingTest extends Ipv6ForwardingTest {
    @Override
    AttachMode mode() {
        return AttachMode.TCX;
    }

    @Override
    List<String> linkPrefixes() {
        return List.of("f6x", "f6y");
    }
}
