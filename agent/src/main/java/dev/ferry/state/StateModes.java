package dev.ferry.state;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The state directory made root-only at start, whoever created what is in it:
 * every directory 0700, every file 0600. A DaemonSet's hostPath creates the
 * directory 0755 before the agent runs, and an older agent wrote some files
 * 0644 (boot_id, pod-cidr) and its directories 0755; the state says which pod
 * owns which address, so nobody but root may read or change it.
 *
 * <p>Two things are left as they are, each for a reason:
 * <ul>
 * <li>symbolic links, which are never followed: a link planted in the state
 * directory must not turn this into a chmod of a file elsewhere;</li>
 * <li>the files in the DEL spool (its directory is made 0700 like the others):
 * their owner and mode are what decides whether a DEL is replayed (a spooled
 * DEL others could write is refused), and making them 0600 here would launder
 * a file someone else wrote into one that looks like ferry-cni's.</li>
 * </ul>
 */
public final class StateModes {
    private static final Logger log = LoggerFactory.getLogger(StateModes.class);

    static final Set<PosixFilePermission> DIRECTORY = PosixFilePermissions.fromString("rwx------");
    static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");

    private StateModes() {
    }

    /** One mode this start changed. */
    public record Change(Path path, String from, String to) {
    }

    /**
     * Makes {@code stateDir} and everything under it root-only, leaving the files
     * in {@code spoolDir} (when it is under {@code stateDir}) to the spool's own
     * checks, and logs each change.
     */
    public static List<Change> restrict(Path stateDir, Path spoolDir) {
        List<Change> changes = new ArrayList<>();
        try {
            Files.walkFileTree(stateDir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                    force(dir, DIRECTORY, changes);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    if (attrs.isSymbolicLink()) {
                        log.warn("event=state_symlink_left file={} reason=\"a link in the state directory is never followed\"", file);
                    } else if (!file.getParent().equals(spoolDir)) {
                        force(file, FILE, changes);
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) {
                    // A file that went away while walking (a CNI request at work) has no mode left to fix.
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("failed to make the state directory '" + stateDir + "' root-only: " + e.getMessage(), e);
        }
        return changes;
    }

    private static void force(Path path, Set<PosixFilePermission> wanted, List<Change> changes) throws IOException {
        Set<PosixFilePermission> mode = Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS);
        if (mode.equals(wanted)) {
            return;
        }
        Files.setPosixFilePermissions(path, wanted);
        Change change = new Change(path, PosixFilePermissions.toString(mode), PosixFilePermissions.toString(wanted));
        changes.add(change);
        log.info("event=state_mode_restricted path={} from={} to={}", path, change.from(), change.to());
    }
}
