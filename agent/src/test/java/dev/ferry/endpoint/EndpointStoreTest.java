package dev.ferry.endpoint;

import dev.ferry.net.IpPrefix;
import dev.ferry.net.MacAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EndpointStoreTest {
    @TempDir
    Path stateDir;

    private static Endpoint endpoint(String id, String ifname) {
        return new Endpoint(id, ifname, "/run/netns/x", HostIfname.of(id, ifname), 7, IpPrefix.parse("10.1.0.5/32"),
                MacAddress.parse("02:00:00:00:00:01"), MacAddress.parse("02:00:00:00:00:02"), 3, 1500,
                Optional.of("default"), Optional.of("web-0"), Optional.empty(), Instant.parse("2026-11-22T00:00:00Z"));
    }

    @Test
    void writtenEndpointReadsBackEqualAfterReopening() {
        Endpoint e = endpoint("abc", "eth0");
        EndpointStore.open(stateDir).write(e);

        assertEquals(Optional.of(e), EndpointStore.open(stateDir).get(new EndpointKey("abc", "eth0")));
    }

    @Test
    void rewritingReplacesTheEndpointWhole() {
        EndpointStore store = EndpointStore.open(stateDir);
        store.write(endpoint("abc", "eth0"));
        Endpoint moved = new Endpoint("abc", "eth0", "/run/netns/y", "fer1", 9, IpPrefix.parse("10.1.0.6/32"),
                MacAddress.parse("02:00:00:00:00:03"), MacAddress.parse("02:00:00:00:00:04"), 4, 1400,
                Optional.empty(), Optional.empty(), Optional.empty(), Instant.EPOCH);
        store.write(moved);

        assertEquals(List.of(moved), store.all());
    }

    @Test
    void interfaceNamesThatDifferOnlyInUnusualCharactersGetDistinctFiles() {
        EndpointStore store = EndpointStore.open(stateDir);
        store.write(endpoint("abc", "net@1"));
        store.write(endpoint("abc", "net%401"));

        assertEquals(2, store.all().size());
        assertNotEquals(store.fileOf(new EndpointKey("abc", "net@1")), store.fileOf(new EndpointKey("abc", "net%401")));
    }

    @Test
    void temporaryFileOfAnInterruptedWriteIsRemovedAtOpen() throws Exception {
        EndpointStore.open(stateDir);
        Path temp = stateDir.resolve("endpoints/.tmp-crashed");
        Files.writeString(temp, "{\"format\":1,");

        EndpointStore store = EndpointStore.open(stateDir);

        assertFalse(Files.exists(temp));
        assertEquals(List.of(), store.all());
    }

    @Test
    void aFileThatIsNotJsonIsQuarantinedAndTheOthersAreServed() throws Exception {
        EndpointStore store = EndpointStore.open(stateDir);
        store.write(endpoint("good", "eth0"));
        Path bad = stateDir.resolve("endpoints/bad@eth0.json");
        Files.writeString(bad, "{ truncated");

        assertEquals(List.of("good"), store.all().stream().map(Endpoint::containerId).toList());
        assertFalse(Files.exists(bad));
        assertEquals("{ truncated", Files.readString(stateDir.resolve("quarantine/endpoints/bad@eth0.json")));
    }

    @Test
    void aFieldOfTheWrongShapeQuarantinesTheFileInsteadOfStoppingTheAgent() throws Exception {
        EndpointStore store = EndpointStore.open(stateDir);
        store.write(endpoint("good", "eth0"));
        store.write(endpoint("yesterday", "eth0"));
        Path bad = store.fileOf(new EndpointKey("yesterday", "eth0"));
        Files.writeString(bad, Files.readString(bad).replace("2026-11-22T00:00:00Z", "yesterday"));

        List<Endpoint> all = EndpointStore.open(stateDir).all();

        assertEquals(List.of("good"), all.stream().map(Endpoint::containerId).toList());
        assertTrue(Files.exists(stateDir.resolve("quarantine/endpoints/yesterday@eth0.json")));
        assertEquals(Optional.empty(), store.get(new EndpointKey("yesterday", "eth0")));
    }

    @Test
    void deleteSaysWhetherThereWasSomethingToDelete() {
        EndpointStore store = EndpointStore.open(stateDir);
        store.write(endpoint("abc", "eth0"));

        assertTrue(store.delete(new EndpointKey("abc", "eth0")));
        assertFalse(store.delete(new EndpointKey("abc", "eth0")));
    }

    @Test
    void aDualStackEndpointReadsBackWithItsIpv6Address() {
        Endpoint e = endpoint("abc", "eth0");
        Endpoint dual = new Endpoint(e.containerId(), e.ifname(), e.netns(), e.hostIfname(), e.hostIfindex(), e.address(),
                Optional.of(IpPrefix.parse("fd00:f17::5/128")), e.podMac(), e.hostMac(), e.endpointId(), e.mtu(),
                e.podNamespace(), e.podName(), e.podUid(), e.created());
        EndpointStore.open(stateDir).write(dual);

        Endpoint read = EndpointStore.open(stateDir).get(new EndpointKey("abc", "eth0")).orElseThrow();
        assertEquals(dual, read);
        assertEquals(List.of(IpPrefix.parse("10.1.0.5/32"), IpPrefix.parse("fd00:f17::5/128")), read.addresses());
    }

    @Test
    void aSingleStackEndpointIsWrittenWithoutAnIpv6FieldAsBeforeDualStack() {
        assertFalse(EndpointStore.toJson(endpoint("abc", "eth0")).contains("address6"));
    }

    @Test
    void aFileOfAnAgentBeforeDualStackLoadsAsASingleStackEndpoint() throws Exception {
        EndpointStore store = EndpointStore.open(stateDir);
        // What the agent before dual stack wrote, verbatim.
        Files.writeString(store.fileOf(new EndpointKey("old", "eth0")), """
                {
                  "format" : 1,
                  "containerId" : "old",
                  "ifname" : "eth0",
                  "netns" : "/run/netns/x",
                  "hostIfname" : "fer0123456789a",
                  "hostIfindex" : 7,
                  "address" : "10.1.0.5/32",
                  "podMac" : "02:00:00:00:00:01",
                  "hostMac" : "02:00:00:00:00:02",
                  "endpointId" : 3,
                  "mtu" : 1500,
                  "created" : "2026-11-22T00:00:00Z"
                }
                """);

        Endpoint read = store.get(new EndpointKey("old", "eth0")).orElseThrow();
        assertEquals(IpPrefix.parse("10.1.0.5/32"), read.address());
        assertEquals(Optional.empty(), read.address6());
    }
}
