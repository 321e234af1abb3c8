package dev.ferry.ipam;

import java.net.InetAddress;
import java.nio.file.Path;

/**
 * An address file outside the current pod CIDR: left by an earlier CIDR of this
 * node. Not deleted on open because its pod may still run with that address;
 * the agent decides (see {@link Ipam#removeStray}).
 */
public record Stray(InetAddress address, String containerId, String ifname, Path file) {
}
