package dev.ferry.egress;

import dev.ferry.net.IpText;

import java.net.InetAddress;
import java.util.Optional;

/**
 * A next hop as configured: the router's address, and the uplink it is reached
 * on (when absent, the uplink whose subnet holds the address).
 */
public record NextHop(InetAddress via, Optional<String> device) {
    @Override
    public String toString() {
        return IpText.format(via) + device.map(d -> " dev " + d).orElse("");
    }
}
