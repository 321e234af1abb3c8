package dev.ferry.linux;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.UUID;

/**
 * Replaces a file whole: the content goes to a temporary in the same directory
 * and is renamed over the file (rename(2) is atomic within a file system), so a
 * reader, or the agent after a crash, sees the old file or the new one, never a
 * mix. {@link #replace} also fsyncs the file and the directory, so that this
 * holds after a power cut too; {@link #replaceForThisBoot} does not, for state
 * that a power cut makes void anyway.
 */
public final class AtomicFile {
    /**
     * Temporaries start with this; a leading dot keeps them out of the way of
     * readers that list the directory (libcni reads *.conflist, the stores *.json).
     */
    public static final String TEMP_PREFIX = ".tmp-";
    public static final Set<PosixFilePermission> WORLD_READABLE = PosixFilePermissions.fromString("rw-r--r--");
    /** State: who owns which address is nobody's business but root's (docs/security.md, "The state directory"). */
    public static final Set<PosixFilePermission> ROOT_ONLY = PosixFilePermissions.fromString("rw-------");
    /** For the directories state files live in. */
    public static final FileAttribute<Set<PosixFilePermission>> ROOT_ONLY_DIRECTORY =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));

    private AtomicFile() {
    }

    public static void replace(Path file, byte[] content, Set<PosixFilePermission> mode) throws IOException {
        write(file, content, mode, true);
    }

    /**
     * Atomic for readers and across process crashes, without the fsyncs: for
     * state that describes kernel objects, which a kernel crash or power cut
     * takes away with any write it loses.
     */
    public static void replaceForThisBoot(Path file, byte[] content, Set<PosixFilePermission> mode) throws IOException {
        write(file, content, mode, false);
    }

    private static void write(Path file, byte[] content, Set<PosixFilePermission> mode, boolean sync) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Path temp = dir.resolve(TEMP_PREFIX + UUID.randomUUID());
        try {
            try (FileChannel ch = FileChannel.open(temp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                    PosixFilePermissions.asFileAttribute(mode))) {
                ByteBuffer bytes = ByteBuffer.wrap(content);
                while (bytes.hasRemaining()) {
                    ch.write(bytes);
                }
                if (sync) {
                    ch.force(true);
                }
            }
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            if (sync) {
                try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                    d.force(true); // the rename itself must survive a power cut
                }
            }
        } finally {
            Files.deleteIfExists(temp);
        }
    }
}
