package dev.ferry.endpoint;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EndpointNamesTest {
    @Test
    void hostIfnameIsFerAndElevenHexCharactersWithinIfnamsiz() {
        String name = HostIfname.of("3f6940ab5ab43bc522569d15b23f8c1b", "eth0");

        assertTrue(name.matches("fer[0-9a-f]{11}"), name);
        assertEquals(name, HostIfname.of("3f6940ab5ab43bc522569d15b23f8c1b", "eth0"), "derived, so DEL finds it again");
    }

    @Test
    void hostIfnameDiffersPerInterfaceOfOneContainer() {
        assertNotEquals(HostIfname.of("c1", "eth0"), HostIfname.of("c1", "net1"));
    }

    @Test
    void endpointIdsStartAtOneSkipThoseInUseAndReuseFreedOnes() {
        EndpointIds ids = new EndpointIds(List.of());
        assertEquals(1, ids.allocate());
        assertEquals(2, ids.allocate());
        ids.free(1);
        assertEquals(1, ids.allocate());
        assertEquals(3, ids.allocate());
    }
}
