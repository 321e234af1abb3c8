package dev.ferry.ipam;

import dev.ferry.net.IpPrefix;
import dev.ferry.net.IpText;
import dev.ferry.state.Quarantine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * The IPAM state directory, host-local's layout: one file per allocated
 * address, named by the address, holding its owner. The file system is the
 * only source of truth, so that a crash of the agent at any instruction and a
 * second process over the same directory both stay correct:
 * <ul>
 *   <li>a file appears complete or not at all: its content is written under a
 *       temporary name, then link(2)ed to the address name;</li>
 *   <li>link(2) fails with EEXIST when the name is taken, so exactly one process
 *       wins an address, without any lock;</li>
 *   <li>a crash leaves at most a temporary file, which open removes.</li>
 * </ul>
 * A file this code did not write in that shape (edited by hand, cut short by a
 * full disk) is moved to the state's quarantine, named in the log, and its
 * address stays out of the pool: its pod may still use it.
 * Nothing is fsynced: only a kernel crash or a power cut loses page-cache
 * writes, and those end every pod the addresses were for; the agent discards
 * an earlier boot's state at start (dev.ferry.agent.BootScopedState).
 */
final class AddressFiles {
    static final String LAST_RESERVED = "last_reserved";
    /**
     * The IPv6 pool's position, beside the IPv4 one: the two pools of a
     * dual-stack node share this directory (their address files cannot clash)
     * but each walks on its own. The IPv4 name stays what it always was.
     */
    static final String LAST_RESERVED_V6 = "last_reserved_v6";
    // A leading dot: no address text starts with one, so temporaries never look like allocations.
    static final String TEMP_PREFIX = ".tmp-";
    /** The quarantine area of IPAM's files. */
    static final String AREA = "ipam";

    private final Path dir;
    private final Quarantine quarantine;

    private AddressFiles(Path dir, Quarantine quarantine) {
        this.dir = dir;
        this.quarantine = quarantine;
    }

    static AddressFiles open(Path dir, Quarantine quarantine) {
        try {
            Files.createDirectories(dir, PRIVATE_DIRECTORY);
            AddressFiles files = new AddressFiles(dir, quarantine);
            files.removeTemporaries();
            return files;
        } catch (IOException e) {
            throw new UncheckedIOException("failed to open IPAM state '" + dir + "': " + e, e);
        }
    }

    Path dir() {
        return dir;
    }

    /** An address file and its owner. */
    record Entry(InetAddress address, Owner owner, Path file) {
    }

    /** Every well-formed address file, read now; an ill-formed one is quarantined on the way. */
    List<Entry> scan() {
        List<Entry> entries = new ArrayList<>();
        try (DirectoryStream<Path> names = Files.newDirectoryStream(dir)) {
            for (Path file : names) {
                Optional<InetAddress> address = addressOf(file.getFileName().toString());
                if (address.isEmpty()) {
                    continue;
                }
                ownerOrQuarantine(file).ifPresent(owner -> entries.add(new Entry(address.get(), owner, file)));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("failed to read IPAM state '" + dir + "': " + e, e);
        }
        return entries;
    }

    /** Addresses whose file was quarantined: nobody knows their pod, so nobody else gets them. */
    List<InetAddress> quarantined() {
        List<InetAddress> out = new ArrayList<>();
        for (String name : quarantine.names(AREA)) {
            addressOf(name).ifPresent(out::add);
        }
        return out;
    }

    /**
     * Takes the first candidate nobody holds, for {@code owner}; empty when every
     * candidate is taken. Nothing is left behind either way.
     */
    Optional<InetAddress> reserveFirstFree(Owner owner, Iterator<InetAddress> candidates) {
        Path temp = dir.resolve(TEMP_PREFIX + UUID.randomUUID());
        try {
            write(temp, owner.fileContent());
            while (candidates.hasNext()) {
                InetAddress candidate = candidates.next();
                if (link(temp, fileOf(candidate), owner)) {
                    return Optional.of(candidate);
                }
            }
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("failed to reserve an address in '" + dir + "': " + e, e);
        } finally {
            deleteQuietly(temp);
        }
    }

    /** link(2): false when the name is taken by another thread or process. */
    private static boolean link(Path temp, Path file, Owner owner) throws IOException {
        try {
            Files.createLink(file, temp);
            return true;
        } catch (FileAlreadyExistsException taken) {
            return false;
        } catch (NoSuchFileException tempGone) {
            // Another process opening this directory removed our temporary as a crash
            // leftover; write it again and retry once (a second loss is not a race we expect).
            write(temp, owner.fileContent());
            try {
                Files.createLink(file, temp);
                return true;
            } catch (FileAlreadyExistsException taken) {
                return false;
            }
        }
    }

    /** Deletes the address file if {@code owner} still holds it; false when it is gone or held by someone else. */
    /** Who holds {@code address}; empty when nobody does (or its file was just quarantined). */
    Optional<Owner> owner(InetAddress address) {
        return ownerOrQuarantine(fileOf(address));
    }

    boolean release(InetAddress address, Owner owner) {
        Path file = fileOf(address);
        try {
            // Read, then delete: not atomic across processes, but the round-robin walk makes
            // an address freed and taken again by another process in between very unlikely.
            if (!ownerOrQuarantine(file).map(owner::equals).orElse(false)) {
                return false;
            }
            return Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException("failed to release '" + file + "': " + e, e);
        }
    }

    void delete(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException("failed to delete '" + file + "': " + e, e);
        }
    }

    /**
     * Where the round-robin walk stopped last, if known. Only a hint: a missing
     * file is fine, and an unreadable one is quarantined and the walk starts over.
     */
    Optional<InetAddress> lastReserved(boolean ipv6) {
        Path file = dir.resolve(lastReservedName(ipv6));
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            quarantine.moveAside(AREA, file, "not readable as UTF-8 text: " + e);
            return Optional.empty();
        }
        try {
            return Optional.of(IpPrefix.literal(text)).filter(a -> (a instanceof Inet6Address) == ipv6);
        } catch (IllegalArgumentException e) {
            quarantine.moveAside(AREA, file, "expected an IP address, found '" + printable(text) + "'");
            return Optional.empty();
        }
    }

    /** Atomic replace (temporary, rename), so a crash leaves the old or the new position, never half a line. */
    void writeLastReserved(InetAddress address) {
        Path temp = dir.resolve(TEMP_PREFIX + UUID.randomUUID());
        Path target = dir.resolve(lastReservedName(address instanceof Inet6Address));
        try {
            write(temp, IpText.format(address) + "\n");
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (NoSuchFileException e) {
            // Another process's open removed our temporary: the position is only a hint, skip this update.
        } catch (IOException e) {
            throw new UncheckedIOException("failed to write '" + target + "': " + e, e);
        } finally {
            deleteQuietly(temp);
        }
    }

    private static String lastReservedName(boolean ipv6) {
        return ipv6 ? LAST_RESERVED_V6 : LAST_RESERVED;
    }

    Path fileOf(InetAddress address) {
        return dir.resolve(IpText.format(address));
    }

    /** The address a file name stands for, if it is one written by {@link #fileOf}; other names are not ours. */
    private static Optional<InetAddress> addressOf(String name) {
        if (name.startsWith(TEMP_PREFIX) || name.equals(LAST_RESERVED) || name.equals(LAST_RESERVED_V6)) {
            return Optional.empty();
        }
        try {
            InetAddress address = IpPrefix.literal(name);
            return IpText.format(address).equals(name) ? Optional.of(address) : Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /**
     * The owner written in an address file; empty when the file has just been
     * released, or was not in the shape this code writes and is quarantined now.
     */
    private Optional<Owner> ownerOrQuarantine(Path file) {
        try {
            return readOwner(file);
        } catch (CorruptFile e) {
            quarantine.moveAside(AREA, file, e.getMessage());
            return Optional.empty();
        }
    }

    /** Why a file is not an address file this code wrote. */
    private static final class CorruptFile extends Exception {
        CorruptFile(String problem) {
            super(problem, null, false, false);
        }
    }

    private static Optional<Owner> readOwner(Path file) throws CorruptFile {
        String content;
        try {
            content = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (CharacterCodingException e) {
            throw new CorruptFile("not UTF-8 text");
        } catch (IOException e) {
            throw new CorruptFile("not readable: " + e);
        }
        String[] lines = content.split("\n", -1);
        if (lines.length != 3 || !lines[2].isEmpty()) {
            throw new CorruptFile("expected two lines 'containerId\\nifname\\n', found '" + printable(content) + "'");
        }
        try {
            return Optional.of(new Owner(lines[0], lines[1]));
        } catch (IllegalArgumentException e) {
            throw new CorruptFile(e.getMessage());
        }
    }

    /** At most 80 characters, control characters escaped: for a log line about a file of unknown content. */
    private static String printable(String text) {
        String cut = text.length() > 80 ? text.substring(0, 80) + "..." : text;
        StringBuilder out = new StringBuilder();
        cut.codePoints().forEach(c -> {
            if (c == '\n') {
                out.append("\\n");
            } else if (Character.isISOControl(c)) {
                out.append(String.format("\\x%02x", c));
            } else {
                out.appendCodePoint(c);
            }
        });
        return out.toString();
    }

    private void removeTemporaries() throws IOException {
        try (DirectoryStream<Path> temps = Files.newDirectoryStream(dir, TEMP_PREFIX + "*")) {
            for (Path temp : temps) {
                Files.deleteIfExists(temp);
            }
        }
    }

    /** Root-only: who owns which address is the node's business, not every local user's. */
    private static final FileAttribute<Set<PosixFilePermission>> PRIVATE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
    private static final FileAttribute<Set<PosixFilePermission>> PRIVATE_DIRECTORY =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));

    private static void write(Path file, String content) throws IOException {
        try (FileChannel channel = FileChannel.open(file,
                Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), PRIVATE)) {
            ByteBuffer bytes = ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8));
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // A temporary we cannot delete is removed by the next open; the reservation itself stands.
        }
    }
}
