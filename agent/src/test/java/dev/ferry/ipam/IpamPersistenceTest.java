package dev.ferry.ipam;

import dev.ferry.net.IpPrefix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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
    void addressFilesAndThePositionAreRootOnly() throws IOException {
        Ipam.open(state, CIDR).allocate("c1", "eth0");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(ipamDir().resolve("10.244.1.1"))));
        assertEquals("rw-------", PosixFilePermissions.toString(
                Files.getPosixFilePermissions(ipamDir().resolve(AddressFiles.LAST_RESERVED))));
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
    void anAddressOfAnEarlierPodCidrIsFoundListedAndFreedByItsOwnersDel() {
        Ipam old = Ipam.open(state, CIDR);
        Allocation a = old.allocate("c1", "eth0");

        Ipam moved = Ipam.open(state, IpPrefix.parse("10.244.2.0/24"));
        assertEquals(0, moved.used(), "usage is about the current pod CIDR");
        assertEquals(List.of(a), moved.allocations(), "GC sees it, so a pod gone meanwhile is collected");
        assertEquals(a, moved.find("c1", "eth0").orElseThrow());

        assertEquals(a, moved.release("c1", "eth0").orElseThrow());
        assertFalse(Files.exists(ipamDir().resolve("10.244.1.1")));
        assertEquals(List.of(), moved.allocations());
    }

    @Test
    void aNewAddInTheNewPodCidrGetsAnAddressFromIt() {
        Ipam.open(state, CIDR).allocate("c1", "eth0");

        Ipam moved = Ipam.open(state, IpPrefix.parse("10.244.2.0/24"));
        assertEquals(IpPrefix.literal("10.244.2.1"), moved.allocate("c2", "eth0").address());
    }

    @Test
    void anIllFormedAddressFileIsQuarantinedAndTheOthersAreServed() throws IOException {
        Ipam ipam = Ipam.open(state, CIDR);
        Allocation good = ipam.allocate("c1", "eth0");
        Path bad = ipamDir().resolve("10.244.1.7");
        Files.writeString(bad, "only-one-line");

        Ipam reopened = Ipam.open(state, CIDR);

        assertFalse(Files.exists(bad));
        assertEquals("only-one-line", Files.readString(state.resolve("quarantine/ipam/10.244.1.7")));
        assertEquals(List.of(good), reopened.allocations());
        assertEquals(IpPrefix.literal("10.244.1.2"), reopened.allocate("c2", "eth0").address());
    }

    @Test
    void anAddressFileThatTurnsBadWhileRunningIsQuarantinedAtTheNextCall() throws IOException {
        Ipam ipam = Ipam.open(state, CIDR);
        ipam.allocate("c1", "eth0");
        Files.write(ipamDir().resolve("10.244.1.1"), new byte[] {(byte) 0xff, (byte) 0xfe, '\n'});

        assertEquals(List.of(), ipam.allocations());
        assertTrue(Files.exists(state.resolve("quarantine/ipam/10.244.1.1")));
        assertEquals(1, ipam.used(), "its pod may still use it");
    }

    @Test
    void aQuarantinedAddressIsNeverHandedOutAgain() throws IOException {
        Files.createDirectories(ipamDir());
        Files.writeString(ipamDir().resolve("10.244.1.1"), "garbage");
        Files.writeString(ipamDir().resolve(AddressFiles.LAST_RESERVED), "10.244.1.254\n"); // the walk wraps to .1

        Ipam ipam = Ipam.open(state, IpPrefix.parse("10.244.1.0/30")); // .1 and .2 only
        assertEquals(IpPrefix.literal("10.244.1.2"), ipam.allocate("c1", "eth0").address());
        IpamException.Exhausted e = assertThrows(IpamException.Exhausted.class, () -> ipam.allocate("c2", "eth0"));
        assertTrue(e.getMessage().contains("2 of 2 allocated"), e.getMessage());

        Files.delete(state.resolve("quarantine/ipam/10.244.1.1")); // the operator found its pod gone
        assertEquals(IpPrefix.literal("10.244.1.1"), ipam.allocate("c2", "eth0").address());
    }

    @Test
    void aSecondBadFileOfTheSameAddressIsQuarantinedBesideTheFirst() throws IOException {
        Files.createDirectories(ipamDir());
        Files.writeString(ipamDir().resolve("10.244.1.9"), "first");
        Ipam ipam = Ipam.open(state, CIDR);
        Files.writeString(ipamDir().resolve("10.244.1.9"), "second");

        ipam.allocations();

        assertEquals("first", Files.readString(state.resolve("quarantine/ipam/10.244.1.9")));
        assertEquals("second", Files.readString(state.resolve("quarantine/ipam/10.244.1.9~1")));
        assertEquals(1, ipam.used());
    }

    @Test
    void junkInLastReservedIsQuarantinedAndTheWalkStartsOver() throws IOException {
        Ipam ipam = Ipam.open(state, CIDR);
        Path last = ipamDir().resolve(AddressFiles.LAST_RESERVED);
        Files.writeString(last, "not-an-address\n");

        assertEquals(IpPrefix.literal("10.244.1.1"), ipam.allocate("c1", "eth0").address());
        assertEquals("not-an-address\n", Files.readString(state.resolve("quarantine/ipam/" + AddressFiles.LAST_RESERVED)));
        assertEquals("10.244.1.1\n", Files.readString(last), "written afresh");
    }
}
