package dev.ferry.ipam;

import dev.ferry.net.IpPrefix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IpamPersistenceTest {
    private static final IpPrefix CIDR = IpPrefix.parse("10.244.1.0/24");

    @TempDir
    Path state;

    private Path ipamDir() {
        return state.resolve("ipam");
    }

    @Test
    void allocationsSurviveReopening() {
        Ipam before = Ipam.open(state, CIDR);
        Allocation a = before.allocate("c1", "eth0");
        Allocation b = before.allocate("c2", "eth0");

        Ipam after = Ipam.open(state, CIDR);
        assertEquals(List.of(a, b), after.allocations());
        assertEquals(a, after.allocate("c1", "eth0"));
        // The round-robin position survives too: the next address follows b.
        assertEquals(IpPrefix.literal("10.244.1.3"), after.allocate("c3", "eth0").address());
    }

    @Test
    void addressFileHoldsOwnerLines() throws IOException {
        Ipam.open(state, CIDR).allocate("c1", "eth0");
        assertEquals("c1\neth0\n", Files.readString(ipamDir().resolve("10.244.1.1")));
    }

    @Test
    void crashLeftoverTemporaryIsRemovedOnOpenAndDoesNotCount() throws IOException {
        Files.createDirectories(ipamDir());
        Path leftover = ipamDir().resolve(AddressFiles.TEMP_PREFIX + "crashed");
        Files.writeString(leftover, "c0\neth0\n");

        Ipam ipam = Ipam.open(state, CIDR);
        assertFalse(Files.exists(leftover));
        assertEquals(0, ipam.used());
        assertEquals(IpPrefix.literal("10.244.1.1"), ipam.allocate("c1", "eth0").address());
    }

    @Test
    void crashBetweenLinkAndTemporaryDeletionKeepsTheAllocation() throws IOException {
        // What a kill right after link(2) leaves: the address file and its temporary, one inode.
        Files.createDirectories(ipamDir());
        Path temp = ipamDir().resolve(AddressFiles.TEMP_PREFIX + "crashed");
        Files.writeString(temp, "c1\neth0\n");
        Files.createLink(ipamDir().resolve("10.244.1.1"), temp);

        Ipam ipam = Ipam.open(state, CIDR);
        assertFalse(Files.exists(temp));
        assertEquals(IpPrefix.literal("10.244.1.1"), ipam.find("c1", "eth0").orElseThrow().address());
        assertEquals(IpPrefix.literal("10.244.1.2"), ipam.allocate("c2", "eth0").address());
    }

    @Test
    void straysAreReportedAfterTheCidrChangedAndKept() {
        Ipam old = Ipam.open(state, CIDR);
        Allocation a = old.allocate("c1", "eth0");

        Ipam moved = Ipam.open(state, IpPrefix.parse("10.244.2.0/24"));
        List<Stray> strays = moved.strays();
        assertEquals(1, strays.size());
        assertEquals(a.address(), strays.getFirst().address());
        assertEquals("c1", strays.getFirst().containerId());
        assertTrue(Files.exists(strays.getFirst().file()));
        assertEquals(List.of(), moved.allocations());
        assertEquals(IpPrefix.literal("10.244.2.1"), moved.allocate("c1", "eth0").address());

        moved.removeStray(strays.getFirst());
        assertEquals(List.of(), moved.strays());
    }

    @Test
    void corruptAddressFileGivesStateCorruptNamingIt() throws IOException {
        Files.createDirectories(ipamDir());
        Path bad = ipamDir().resolve("10.244.1.7");
        Files.writeString(bad, "only-one-line");

        IpamException.StateCorrupt e = assertThrows(IpamException.StateCorrupt.class, () -> Ipam.open(state, CIDR));
        assertEquals(bad, e.file());
        assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
    }

    @Test
    void corruptLastReservedGivesStateCorruptNamingIt() throws IOException {
        Ipam ipam = Ipam.open(state, CIDR);
        Path last = ipamDir().resolve(AddressFiles.LAST_RESERVED);
        Files.writeString(last, "not-an-address\n");

        IpamException.StateCorrupt e = assertThrows(IpamException.StateCorrupt.class, () -> ipam.allocate("c1", "eth0"));
        assertEquals(last, e.file());
    }
}
