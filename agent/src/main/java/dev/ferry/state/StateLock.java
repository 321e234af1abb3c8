package dev.ferry.state;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The one-agent-per-state rule: an exclusive lock on {@code stateDir/agent.lock},
 * taken before the agent touches any kernel object and held until it stops. Two
 * agents started at the same moment on one state would otherwise both attach
 * their programs to the uplink and every pod veth before one of them lost the
 * socket, leaving the survivor's hooks replaced by the loser's.
 *
 * <p>fcntl locks (what {@link FileChannel#tryLock()} takes) are the kernel's: a
 * killed agent's lock goes with its process, so a stale file never blocks the
 * next start. The file holds the holder's PID for the refusal message only.
 */
public final class StateLock implements AutoCloseable {
    public static final String FILE = "agent.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private StateLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Locks {@code stateDir} for this process, then makes it and everything in it
     * root-only whoever created them ({@link StateModes}): a DaemonSet's hostPath
     * makes it 0755 before the agent runs, and it holds who owns which address and
     * the DEL spool {@code spoolDir}, whose files keep their modes for the spool's
     * own checks. The lock comes first, so an agent refused here changes nothing.
     */
    public static StateLock acquire(Path stateDir, Path spoolDir) {
        Path file = stateDir.resolve(FILE);
        FileChannel channel = null;
        try {
            Files.createDirectories(stateDir);
            Files.setPosixFilePermissions(stateDir, PosixFilePermissions.fromString("rwx------"));
            channel = FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException sameProcess) {
                lock = null; // another agent in this JVM (tests) holds it
            }
            if (lock == null) {
                String holder = holder(channel);
                channel.close();
                throw new IllegalStateException("another agent" + holder + " holds the state directory '" + stateDir
                        + "' (" + file + "): stop it, or give this agent its own stateDir, socket and bpffsRoot");
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
            StateLock held = new StateLock(channel, lock);
            try {
                StateModes.restrict(stateDir, spoolDir);
            } catch (RuntimeException e) {
                held.close();
                throw e;
            }
            return held;
        } catch (IOException e) {
            closeQuietly(channel);
            throw new UncheckedIOException("failed to lock the state directory '" + stateDir + "': " + e.getMessage(), e);
        }
    }

    /** " (pid N)" as the holder wrote it, or nothing when the file says nothing readable. */
    private static String holder(FileChannel channel) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(32);
        channel.read(buffer, 0);
        String text = new String(buffer.array(), 0, buffer.position(), StandardCharsets.US_ASCII).strip();
        return text.matches("\\d{1,10}") ? " (pid " + text + ")" : "";
    }

    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException ignored) {
            // Closing the channel releases it too.
        }
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel == null) {
            return;
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // Nothing more to release.
        }
    }
}
