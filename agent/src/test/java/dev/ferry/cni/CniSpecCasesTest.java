package dev.ferry.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.endpoint.EndpointKey;
import dev.ferry.testing.Cleanup;
import dev.ferry.testing.CniNode;
import dev.ferry.testing.FerryCni;
import dev.ferry.testing.Footprint;
import dev.ferry.testing.NothingLeftBehind;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CNI spec's cases through the real binary and the agent's CNI service:
 * each asserts the answer (exit status, error code) and that nothing leaked.
 */
@RequiresRoot
class CniSpecCasesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static CniNode node;

    @BeforeAll
    static void start() throws Exception {
        node = CniNode.start("spec", "10.232.0.0/24", "192.168.232.1");
    }

    @AfterAll
    static void close() throws Exception {
        node.close();
    }

    /** Every case, refused or not, leaves the node as it found it (pods it made are deleted again). */
    @RegisterExtension
    static final NothingLeftBehind nothingLeft = new NothingLeftBehind(() -> node);

    @Test
    void versionEchoesTheConfiguredVersionAndListsEverySupportedOne() throws Exception {
        FerryCni.Result r = FerryCni.command("VERSION").stdin(node.config("0.4.0")).run();

        assertEquals(0, r.exitCode(), r.stderr());
        JsonNode v = JSON.readTree(r.stdout());
        assertEquals("0.4.0", v.path("cniVersion").asText());
        assertEquals(CniVersions.SUPPORTED, JSON.convertValue(v.path("supportedVersions"), List.class));
    }

    @Test
    void unsupportedCniVersionIsCode1AndLeavesNothing() {
        assertRefusedWithoutLeak(1, node.config().replace("\"1.1.0\"", "\"9.9.9\""));
    }

    @Test
    void malformedJsonIsCode6AndLeavesNothing() {
        String truncated = node.config().substring(0, node.config().length() - 10);
        assertRefusedWithoutLeak(6, truncated);
    }

    @Test
    void fieldOfTheWrongJsonTypeIsCode6AndLeavesNothing() {
        assertRefusedWithoutLeak(6, node.config().replace("\"type\":\"ferry-cni\"", "\"type\":\"ferry-cni\",\"mtu\":\"big\""));
    }

    @Test
    void configForAnotherPluginTypeIsCode7AndLeavesNothing() {
        assertRefusedWithoutLeak(7, node.config().replace("\"type\":\"ferry-cni\"", "\"type\":\"bridge\""));
    }

    @Test
    void mtuBelowTheIpv4MinimumIsCode7AndLeavesNothing() {
        assertRefusedWithoutLeak(7, node.config().replace("\"type\":\"ferry-cni\"", "\"type\":\"ferry-cni\",\"mtu\":20"));
    }

    @Test
    void missingCniVariablesAreCode4AndLeaveNothing() {
        Footprint before = node.footprint();
        TestNetns ns = node.podNamespace("specenv");

        FerryCni.Result r = node.cni("ADD", CniNode.newContainerId(), "/run/netns/" + ns.name()).without("CNI_NETNS").run();

        assertEquals(4, r.code(), r.toString());
        assertTrue(r.msg().contains("CNI_NETNS"), r.msg());
        node.assertNothingLeftSince(before);
    }

    @Test
    void netnsThatDoesNotExistIsCode4AndLeavesNothing() {
        Footprint before = node.footprint();

        FerryCni.Result r = node.cni("ADD", CniNode.newContainerId(), "/run/netns/ferrytest-no-such-netns").run();

        assertEquals(4, r.code(), r.toString());
        assertTrue(r.stdout().contains("ferrytest-no-such-netns"), r.stdout());
        node.assertNothingLeftSince(before);
    }

    @Test
    void netnsPathThatIsNotANetworkNamespaceIsCode4AndLeavesNothing() {
        Footprint before = node.footprint();

        FerryCni.Result r = node.cni("ADD", CniNode.newContainerId(), "/etc/hostname").run();

        assertEquals(4, r.code(), r.toString());
        node.assertNothingLeftSince(before);
    }

    @Test
    void repeatedAddForTheSameNetnsIsCode100AndLeavesThePodAsItWas() {
        CniNode.Pod pod = node.addPod("specdup");
        Footprint before = node.footprint();

        FerryCni.Result again = node.cni("ADD", pod.containerId(), pod.netnsPath()).run();

        // The CNI spec: an ADD for an interface that already exists in the container MUST fail.
        assertEquals(CniError.FERRY_ALREADY_EXISTS, again.code(), again.toString());
        assertTrue(again.msg().contains("already exists"), again.msg());
        node.assertNothingLeftSince(before);
        assertEquals(0, node.cni("CHECK", pod.containerId(), pod.netnsPath()).run().exitCode(),
                "the pod is untouched");
        assertEquals(0, node.del(pod).exitCode());
    }

    @Test
    void aFifoAsTheNetnsIsCode4AndItsContainerIsFreeForDel() throws Exception {
        Path fifo = Files.createTempDirectory("ferry-test-fifo").resolve("netns");
        try {
            Shell.run("mkfifo", fifo.toString());
            Footprint before = node.footprint();
            String containerId = CniNode.newContainerId();

            FerryCni.Result r = node.cni("ADD", containerId, fifo.toString()).run();

            assertEquals(4, r.code(), r.toString());
            assertTrue(r.stdout().contains("not a namespace file"), r.stdout());
            assertEquals(0, node.cni("DEL", containerId, fifo.toString()).run().exitCode(), "no lock or slot was kept");
            node.assertNothingLeftSince(before);
        } finally {
            Cleanup.deleteTree(fifo.getParent());
        }
    }

    @Test
    void aNamespaceOfAnotherKindIsCode4() {
        Footprint before = node.footprint();

        FerryCni.Result r = node.cni("ADD", CniNode.newContainerId(), "/proc/self/ns/mnt").run();

        assertEquals(4, r.code(), r.toString());
        assertTrue(r.stdout().contains("not a network namespace"), r.stdout());
        node.assertNothingLeftSince(before);
    }

    @Test
    void addReplacesAStaleHostVethLeftByAnEarlierAttemptOfTheSameContainer() throws Exception {
        TestNetns ns = node.podNamespace("specstale");
        String containerId = CniNode.newContainerId();
        String stale = dev.ferry.endpoint.HostIfname.of(containerId, "eth0");
        node.node().ip("link", "add", stale, "type", "veth", "peer", "name", "specstalepeer");

        FerryCni.Result r = node.cni("ADD", containerId, "/run/netns/" + ns.name()).run();

        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(node.node().ip("-o", "link", "show").lines().noneMatch(l -> l.contains("specstalepeer")),
                "the stale pair is gone");
        assertTrue(ns.ip("-o", "link", "show", "eth0").contains("eth0"), "the new pair reaches the pod");
        assertEquals(0, node.cni("DEL", containerId, "/run/netns/" + ns.name()).run().exitCode());
    }

    @Test
    void addOfAnExistingAttachmentFromAnotherNetnsIsCode100AndLeavesNothing() {
        CniNode.Pod pod = node.addPod("specdupa");
        TestNetns other = node.podNamespace("specdupb");
        Footprint before = node.footprint();

        FerryCni.Result r = node.cni("ADD", pod.containerId(), "/run/netns/" + other.name()).run();

        assertEquals(CniError.FERRY_ALREADY_EXISTS, r.code(), r.toString());
        node.assertNothingLeftSince(before);
        assertTrue(other.ip("-o", "link", "show").lines().noneMatch(l -> l.contains("eth0")), "nothing made in the other netns");
        assertEquals(0, node.del(pod).exitCode());
    }

    @Test
    void addIntoANetnsThatAlreadyHasTheInterfaceIsCode100AndLeavesTheirsAlone() {
        TestNetns ns = node.podNamespace("specbusy");
        ns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "other0");
        Footprint before = node.footprint();

        FerryCni.Result r = node.cni("ADD", CniNode.newContainerId(), "/run/netns/" + ns.name()).run();

        assertEquals(CniError.FERRY_ALREADY_EXISTS, r.code(), r.toString());
        node.assertNothingLeftSince(before);
        assertTrue(ns.ip("-o", "link", "show").contains("eth0@other0"), "their eth0 is untouched");
    }

    @Test
    void delOfAnUnknownContainerSucceeds() {
        Footprint before = node.footprint();

        FerryCni.Result r = node.cni("DEL", CniNode.newContainerId(), "/run/netns/ferrytest-never-existed").run();

        assertEquals(0, r.exitCode(), r.toString());
        node.assertNothingLeftSince(before);
    }

    @Test
    void delTwiceSucceedsBothTimes() {
        Footprint before = node.footprint();
        CniNode.Pod pod = node.addPod("spectwice");

        FerryCni.Result first = node.del(pod);
        FerryCni.Result second = node.del(pod);

        assertAll(
                () -> assertEquals(0, first.exitCode(), first.toString()),
                () -> assertEquals(0, second.exitCode(), second.toString()),
                () -> node.assertNothingLeftSince(before));
    }

    @Test
    void delWithoutANetnsSucceedsAndCleansUp() {
        Footprint before = node.footprint();
        CniNode.Pod pod = node.addPod("specnonetns");

        FerryCni.Result r = node.cni("DEL", pod.containerId(), pod.netnsPath()).without("CNI_NETNS").run();

        assertEquals(0, r.exitCode(), r.toString());
        node.assertNothingLeftSince(before);
    }

    @Test
    void delAfterTheNetnsWasDeletedSucceedsAndCleansUp() {
        Footprint before = node.footprint();
        CniNode.Pod pod = node.addPod("specgone");
        pod.ns().close();

        FerryCni.Result r = node.del(pod);

        assertEquals(0, r.exitCode(), r.toString());
        node.assertNothingLeftSince(before);
    }

    @Test
    void checkOfAnIntactPodSucceeds() {
        CniNode.Pod pod = node.addPod("speccheck");

        FerryCni.Result r = check(pod);

        assertEquals(0, r.exitCode(), r.toString());
        assertEquals(0, node.del(pod).exitCode());
    }

    @Test
    void checkAfterThePodsDefaultRouteWasRemovedIsCode102NamingIt() {
        CniNode.Pod pod = node.addPod("specroute");
        pod.ns().ip("route", "del", "default");

        FerryCni.Result r = check(pod);

        assertEquals(CniError.FERRY_CHECK_FAILED, r.code(), r.toString());
        assertTrue(r.stdout().contains("default route via 169.254.1.1 is missing"), r.stdout());
        assertEquals(0, node.del(pod).exitCode());
    }

    @Test
    void checkAfterTheHostRouteWasRemovedIsCode102NamingIt() {
        CniNode.Pod pod = node.addPod("spechost");
        node.node().ip("route", "del", pod.address().getHostAddress() + "/32");

        FerryCni.Result r = check(pod);

        assertEquals(CniError.FERRY_CHECK_FAILED, r.code(), r.toString());
        assertTrue(r.stdout().contains("host route " + pod.address().getHostAddress() + "/32"), r.stdout());
        assertEquals(0, node.del(pod).exitCode());
    }

    @Test
    void checkOfAnUnknownContainerIsCode3() {
        TestNetns ns = node.podNamespace("specunk");

        FerryCni.Result r = node.cni("CHECK", CniNode.newContainerId(), "/run/netns/" + ns.name())
                .stdin(withPrevResult(node.config(), "10.232.0.200")).run();

        assertEquals(CniError.UNKNOWN_CONTAINER, r.code(), r.toString());
    }

    @Test
    void addAnswersInTheShapeOfTheConfiguredVersion() throws Exception {
        TestNetns ns = node.podNamespace("specv040");
        String id = CniNode.newContainerId();

        FerryCni.Result r = node.cni("ADD", id, "/run/netns/" + ns.name()).stdin(node.config("0.4.0")).run();

        assertEquals(0, r.exitCode(), r.toString());
        JsonNode result = JSON.readTree(r.stdout());
        assertEquals("0.4.0", result.path("cniVersion").asText());
        assertEquals("4", result.path("ips").path(0).path("version").asText());
        assertEquals(0, node.cni("DEL", id, "/run/netns/" + ns.name()).stdin(node.config("0.4.0")).run().exitCode());
    }

    @Test
    void statusOfAReadyAgentSucceedsWithoutOutput() {
        FerryCni.Result r = FerryCni.command("STATUS").stdin(node.config()).run();

        assertEquals(0, r.exitCode(), r.toString());
        assertEquals("", r.stdout());
    }

    @Test
    void statusOfAnAgentThatIsNotReadyIsCode50WithTheReasonAndAddIsCode11() {
        node.readiness(() -> Optional.of("the pod CIDR is not assigned yet"));
        try {
            FerryCni.Result status = FerryCni.command("STATUS").stdin(node.config()).run();
            TestNetns ns = node.podNamespace("specnr");
            Footprint before = node.footprint();
            FerryCni.Result add = node.cni("ADD", CniNode.newContainerId(), "/run/netns/" + ns.name()).run();

            assertEquals(CniError.PLUGIN_NOT_AVAILABLE, status.code(), status.toString());
            assertTrue(status.stdout().contains("the pod CIDR is not assigned yet"), status.stdout());
            assertEquals(CniError.TRY_AGAIN_LATER, add.code(), add.toString());
            node.assertNothingLeftSince(before);
        } finally {
            node.readiness(dev.ferry.cni.Readiness.READY);
        }
    }

    @Test
    void gcRemovesTheAttachmentsTheRuntimeDoesNotListAndKeepsTheOthers() {
        CniNode.Pod keep = node.addPod("specgck");
        CniNode.Pod stale = node.addPod("specgcs");
        String config = node.config().replace("\"type\":\"ferry-cni\"", "\"type\":\"ferry-cni\",\"cni.dev/valid-attachments\":"
                + "[{\"containerID\":\"" + keep.containerId() + "\",\"ifname\":\"eth0\"}]");

        FerryCni.Result r = FerryCni.command("GC").env("CNI_PATH", "/opt/cni/bin").stdin(config).run();

        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(node.endpoints().get(new EndpointKey(keep.containerId(), "eth0")).isPresent(), "listed pod kept");
        assertTrue(node.endpoints().get(new EndpointKey(stale.containerId(), "eth0")).isEmpty(), "unlisted pod collected");
        assertTrue(node.ipam().find(stale.containerId(), "eth0").isEmpty(), "its address released");
        assertEquals(0, check(keep).exitCode(), "the kept pod is intact");
        // GC sees every endpoint of the node: list none and the node is empty again.
        assertEquals(0, FerryCni.command("GC").env("CNI_PATH", "/opt/cni/bin").stdin(node.config().replace("\"type\":\"ferry-cni\"",
                "\"type\":\"ferry-cni\",\"cni.dev/valid-attachments\":[]")).run().exitCode());
        assertTrue(node.endpoints().list().isEmpty(), "nothing left: " + node.endpoints().list());
    }

    private static FerryCni.Result check(CniNode.Pod pod) {
        return node.cni("CHECK", pod.containerId(), pod.netnsPath())
                .stdin(withPrevResult(node.config(), pod.address().getHostAddress())).run();
    }

    private static String withPrevResult(String config, String address) {
        return config.substring(0, config.length() - 1) + ",\"prevResult\":{\"cniVersion\":\"1.1.0\","
                + "\"ips\":[{\"address\":\"" + address + "/32\"}]}}";
    }

    private static void assertRefusedWithoutLeak(int code, String config) {
        Footprint before = node.footprint();
        TestNetns ns = node.podNamespace("specbad");

        FerryCni.Result r = node.cni("ADD", CniNode.newContainerId(), "/run/netns/" + ns.name()).stdin(config).run();

        assertEquals(code, r.code(), r.toString());
        node.assertNothingLeftSince(before);
        assertTrue(ns.ip("-o", "link", "show").lines().noneMatch(l -> l.contains("eth0")), "nothing made in the pod");
    }
}
