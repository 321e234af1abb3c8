package dev.ferry.ipam;

import dev.ferry.net.IpPrefix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** DEL looks an owner's address up with a hint (its endpoint's address); the hint never decides alone. */
class IpamFindTest {
    @TempDir
    Path state;

    private Ipam open() {
        return Ipam.open(state, IpPrefix.parse("10.246.3.0/24"));
    }

    @Test
    void theHintedAddressIsFoundWhenTheOwnerHoldsIt() {
        Ipam ipam = open();
        Allocation a = ipam.allocate("c1", "eth0");
        assertEquals(Optional.of(a), ipam.find("c1", "eth0", Optional.of(a.address())));
    }

    @Test
    void aHintNamingAnotherOwnersAddressFallsBackToTheOwnersOwn() {
        Ipam ipam = open();
        Allocation mine = ipam.allocate("c1", "eth0");
        Allocation theirs = ipam.allocate("c2", "eth0");
        assertEquals(Optional.of(mine), ipam.find("c1", "eth0", Optional.of(theirs.address())));
    }

    @Test
    void aHintOfAFreeAddressFindsNothingForAnOwnerWithoutOne() {
        Ipam ipam = open();
        InetAddress free = IpPrefix.literal("10.246.3.77");
        assertEquals(Optional.empty(), ipam.find("c1", "eth0", Optional.of(free)));
        assertEquals(Optional.empty(), ipam.find("c1", "eth0", Optional.empty()));
    }

    @Test
    void releasingAnAllocationFreesItsAddress() {
        Ipam ipam = open();
        Allocation a = ipam.allocate("c1", "eth0");
        assertTrue(ipam.release(a));
        assertEquals(0, ipam.used());
        assertEquals(Optional.empty(), ipam.find("c1", "eth0"));
    }

    @Test
    void releasingAnAllocationWhoseAddressNowBelongsToAnotherOwnerFreesNothing() {
        Ipam ipam = open();
        Allocation a = ipam.allocate("c1", "eth0");
        ipam.release("c1", "eth0");
        Allocation other = ipam.allocate("c2", "eth0");
        Allocation stale = new Allocation(other.address(), "c1", "eth0");
        assertFalse(ipam.release(stale));
        assertEquals(Optional.of(other), ipam.find("c2", "eth0"));
        assertEquals(a.containerId(), stale.containerId());
    }
}
