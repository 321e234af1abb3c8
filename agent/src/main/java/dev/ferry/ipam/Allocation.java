package dev.ferry.ipam;

import java.net.InetAddress;

/** One address handed to one pod interface, identified as CNI identifies it: container id and interface name. */
public record Allocation(InetAddress address, String containerId, String ifname) {
}
