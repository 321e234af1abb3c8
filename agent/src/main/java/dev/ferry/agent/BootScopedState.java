package dev.ferry.agent;

import dev.ferry.linux.AtomicFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * The endpoint and IPAM state describe veths, namespaces and pinned maps: kernel
 * objects that die with the boot. So that state is written without fsync (a
 * crashed agent's writes are in the page cache; only a kernel crash or a power
 * cut loses them, and that takes the pods with it), which keeps two to four
 * milliseconds of disk flushes off every CNI ADD and DEL. What a kernel crash
 * can leave behind (a file named but empty) must then never be read as a live
 * pod: the state records the boot it belongs to, and an agent started in a new
 * boot discards it. The runtime's DELs for the dead pods find nothing, which
 * CNI DEL answers with success.
 */
final class BootScopedState {
    private static final Logger log = LoggerFactory.getLogger(BootScopedState.class);

    static final String BOOT_ID_FILE = "boot_id";
    /** Directories of stateDir that hold this boot's state (EndpointStore's and Ipam's). */
    static final List<String> DIRECTORIES = List.of("endpoints", "ipam");
    static final Path KERNEL_BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");

    private BootScopedState() {
    }

    /** {@link #claim(Path, String)} for the running kernel's boot. */
    static void claim(Path stateDir) {
        claim(stateDir, readBootId(KERNEL_BOOT_ID));
    }

    /**
     * Makes {@code stateDir} this boot's: state recorded under another boot id is
     * deleted; state without any (a first start, or an agent that predates the
     * record) is kept and from now on belongs to {@code bootId}.
     *
     * @return how many files of an earlier boot were deleted
     */
    static int claim(Path stateDir, String bootId) {
        Path record = stateDir.resolve(BOOT_ID_FILE);
        String recorded = readIfPresent(record);
        if (bootId.equals(recorded)) {
            return 0;
        }
        int discarded = 0;
        if (recorded != null) {
            for (String dir : DIRECTORIES) {
                discarded += deleteFiles(stateDir.resolve(dir));
            }
            log.warn("event=state_of_earlier_boot_discarded state_dir={} recorded_boot={} boot={} files={}",
                    stateDir, recorded, bootId, discarded);
        }
        try {
            // Durable, unlike the state it guards: a stale record would discard a live boot's pods.
            AtomicFile.replace(record, (bootId + "\n").getBytes(StandardCharsets.UTF_8), AtomicFile.ROOT_ONLY);
        } catch (IOException e) {
            throw new UncheckedIOException("failed to write '" + record + "': " + e, e);
        }
        return discarded;
    }

    static String readBootId(Path file) {
        String id = readIfPresent(file);
        if (id == null || id.isEmpty()) {
            throw new IllegalStateException("cannot read the kernel's boot id from " + file);
        }
        return id;
    }

    private static String readIfPresent(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException("failed to read '" + file + "': " + e, e);
        }
    }

    private static int deleteFiles(Path dir) {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        int deleted = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path file : files) {
                if (Files.isRegularFile(file) && Files.deleteIfExists(file)) {
                    deleted++;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("failed to clear '" + dir + "': " + e, e);
        }
        return deleted;
    }
}
