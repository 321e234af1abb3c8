package dev.ferry.netlink;

import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import org.junit.jupiter.api.Test;

import java.io.UncheckedIOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

@RequiresRoot
class SysctlTest extends TwoNamespaces {

    @Test
    void settingInsideANamespaceLeavesTheHostsValueAlone() {
        String key = "net.ipv4.ip_forward";
        String hostBefore = Shell.run("sysctl", "-n", key).strip();
        String wanted = pod.exec("sysctl", "-n", key).stdout().strip().equals("1") ? "0" : "1";

        Sysctl.set(pod.handle(), key, wanted);

        assertEquals(wanted, pod.exec("sysctl", "-n", key).stdout().strip());
        assertEquals(wanted, Sysctl.get(pod.handle(), key));
        assertEquals(hostBefore, Shell.run("sysctl", "-n", key).strip());
        assertEquals(hostBefore, Sysctl.get(key), "the test thread itself is in the host's namespace");
    }

    @Test
    void perDeviceSysctlsFollowTheCallingThreadsNamespace() {
        plumbVeth();
        String proxyArp = "net.ipv4.conf." + hostName + ".proxy_arp";
        String forwarding = "net.ipv4.conf." + hostName + ".forwarding";

        Sysctl.setAll(host.handle(), java.util.Map.of(proxyArp, "1", forwarding, "1"));

        assertEquals("1", host.exec("sysctl", "-n", proxyArp).stdout().strip());
        assertEquals("1", host.exec("sysctl", "-n", forwarding).stdout().strip());
        assertEquals("1", Sysctl.get(host.handle(), proxyArp));
        // The device exists only in that namespace: from the test's own thread the key is not there.
        assertThrows(UncheckedIOException.class, () -> Sysctl.get(proxyArp));
    }

    @Test
    void onlyNetworkSysctlsAreAccepted() {
        assertThrows(IllegalArgumentException.class, () -> Sysctl.path("kernel.hostname"));
        assertThrows(IllegalArgumentException.class, () -> Sysctl.path("net/../kernel/hostname"));
        assertThrows(IllegalArgumentException.class, () -> Sysctl.path("net"));
    }

    @Test
    void keysWithSlashesNameDevicesThatHaveDots() {
        assertEquals(Path.of("/proc/sys/net/ipv4/conf/eth0.100/rp_filter"), Sysctl.path("net/ipv4/conf/eth0.100/rp_filter"));
        assertEquals(Path.of("/proc/sys/net/ipv4/conf/eth0/rp_filter"), Sysctl.path("net.ipv4.conf.eth0.rp_filter"));
    }

    @Test
    void ferryProcfsNamesAnotherProcfsForAContainerWhoseProcSysIsReadOnly() {
        assertEquals(Path.of("/proc/sys"), Sysctl.root(null));
        assertEquals(Path.of("/host/proc/sys"), Sysctl.root("/host/proc"));
        assertEquals(Path.of("/host/proc/sys/net/ipv4/conf/eth0/forwarding"),
                Sysctl.path(Sysctl.root("/host/proc"), "net.ipv4.conf.eth0.forwarding"));
        assertThrows(IllegalArgumentException.class, () -> Sysctl.path(Sysctl.root("/host/proc"), "net"));
        assertThrows(IllegalArgumentException.class, () -> Sysctl.path(Sysctl.root("/host/proc"), "net/../../sys/kernel"));
    }
}
