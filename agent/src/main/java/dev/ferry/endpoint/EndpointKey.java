package dev.ferry.endpoint;

/** What the CNI spec identifies an attachment by: the container and the interface name inside it. */
public record EndpointKey(String containerId, String ifname) {
    @Override
    public String toString() {
        return containerId + "/" + ifname;
    }
}
