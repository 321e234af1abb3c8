package dev.ferry.datapath;

import dev.ferry.bpf.BpfMap;
import dev.ferry.net.MacAddress;
import dev.ferry.testing.BpfPins;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.net.InetAddress;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ferry_veth_endpoints follows ferry_endpoints_v3: every write of an endpoint
 * names its address for its host veth, so that from_pod can count a spoofed
 * packet against the pod whose veth it came in on.
 */
@RequiresRoot
class EndpointVethsTest {
    static final MacAddress POD_MAC = MacAddress.parse("02:00:00:00:01:01");
    static final MacAddress HOST_MAC = MacAddress.parse("02:00:00:00:01:02");

    BpfPins pins;
    Datapath datapath;
    EndpointMap endpoints;
    InetAddress a;
    InetAddress b;

    @BeforeEach
    void load() throws Exception {
        pins = BpfPins.create("ferry-test-veths");
        datapath = Datapath.load(pins.root(), AttachMode.TC);
        endpoints = datapath.endpoints();
        a = InetAddress.getByName("10.85.1.2");
        b = InetAddress.getByName("10.85.1.3");
    }

    @AfterEach
    void close() {
        try {
            datapath.close();
        } finally {
            pins.close();
        }
    }

    static EndpointEntry on(int ifindex, int endpointId) {
        return new EndpointEntry(ifindex, endpointId, 0, POD_MAC, HOST_MAC);
    }

    @Test
    void writingAnEndpointNamesItsAddressForItsVeth() {
        endpoints.put(a, on(11, 1));
        assertEquals(Optional.of(a), endpoints.addressOfVeth(11));
    }

    @Test
    void deletingAnEndpointForgetsItsVeth() {
        endpoints.put(a, on(11, 1));
        assertTrue(endpoints.delete(a));
        assertEquals(Optional.empty(), endpoints.addressOfVeth(11));
    }

    @Test
    void endpointMovedToAnotherVethLeavesNothingOnTheOldOne() {
        endpoints.put(a, on(11, 1));
        endpoints.put(a, on(12, 1));
        assertEquals(Optional.empty(), endpoints.addressOfVeth(11));
        assertEquals(Optional.of(a), endpoints.addressOfVeth(12));
    }

    @Test
    void deletingAnAddressKeepsTheVethOfTheAddressThatTookItOver() {
        endpoints.put(a, on(11, 1));
        endpoints.put(b, on(11, 2));
        endpoints.delete(a);
        assertEquals(Optional.of(b), endpoints.addressOfVeth(11));
    }

    /** After an upgrade from an agent without the map, restore rewrites unchanged entries: that fills it. */
    @Test
    void rewritingAnUnchangedEndpointPutsBackAMissingVethEntry() {
        endpoints.put(a, on(11, 1));
        try (Arena arena = Arena.ofConfined(); BpfMap veths = BpfMap.openPinned(pins.resolve(EndpointMap.VETHS))) {
            assertTrue(veths.delete(arena.allocateFrom(JAVA_INT, 11)));
        }
        endpoints.put(a, on(11, 1));
        assertEquals(Optional.of(a), endpoints.addressOfVeth(11));
    }
}
