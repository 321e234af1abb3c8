package dev.ferry.state;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Where state files the agent cannot read go: {@code stateDir/quarantine/<area>/},
 * under their own name. One bad file (edited by hand, truncated by a full disk)
 * must not stop the node's other pods, and must not vanish either: moved here,
 * named in the log, counted in {@code ferry_state_quarantined_files} and listed
 * by {@code ferry status}, it waits for an operator, who removes it once its pod
 * is known to be gone (docs/operations.md).
 *
 * <p>The directory is the record: nothing is kept in memory, so a restart sees
 * what an earlier run quarantined. A quarantined file keeps its name, so an
 * area that must keep honouring it (IPAM keeps a quarantined address out of the
 * pool: its pod may still use it) can ask {@link #holds}.
 */
public final class Quarantine {
    private static final Logger log = LoggerFactory.getLogger(Quarantine.class);
    public static final String DIRECTORY = "quarantine";
    /** Separates a name from its count when a file of that name was quarantined before; no state file name has it. */
    private static final char SUFFIX = '~';

    private final Path root;

    private Quarantine(Path root) {
        this.root = root;
    }

    /** The quarantine of the state directory {@code stateDir}; nothing is created until a file is moved. */
    public static Quarantine of(Path stateDir) {
        return new Quarantine(stateDir.resolve(DIRECTORY));
    }

    /** A file moved aside: where it was, where it is, and why. */
    public record Entry(String area, Path original, Path moved, String reason) {
    }

    /**
     * Moves {@code file} to {@code quarantine/<area>/}, under its name (with
     * {@code ~1}, {@code ~2}, ... when that is taken), and logs it.
     *
     * @return where it went; empty when the file was already gone (another reader moved it)
     */
    public Optional<Entry> moveAside(String area, Path file, String reason) {
        Path dir = root.resolve(area);
        try {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Path target = dir.resolve(file.getFileName().toString());
            for (int n = 1; Files.exists(target); n++) {
                target = dir.resolve(file.getFileName().toString() + SUFFIX + n);
            }
            Files.move(file, target);
            log.error("event=state_file_quarantined area={} file={} moved_to={} reason=\"{}\"", area, file, target, reason);
            return Optional.of(new Entry(area, file, target, reason));
        } catch (NoSuchFileException gone) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("failed to quarantine '" + file + "' (" + reason + "): " + e.getMessage(), e);
        }
    }

    /** Whether {@code area} holds a quarantined file that was named {@code name}. */
    public boolean holds(String area, String name) {
        Path dir = root.resolve(area);
        if (Files.exists(dir.resolve(name))) {
            return true;
        }
        try (DirectoryStream<Path> renamed = Files.newDirectoryStream(dir, escapeGlob(name) + SUFFIX + "*")) {
            return renamed.iterator().hasNext();
        } catch (NoSuchFileException none) {
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException("failed to read '" + dir + "': " + e.getMessage(), e);
        }
    }

    /** The names (as they were) of the files quarantined in {@code area}. */
    public List<String> names(String area) {
        return files(root.resolve(area)).stream().map(p -> originalName(p.getFileName().toString())).distinct().toList();
    }

    /** Every quarantined file, as {@code area/name}, for status and metrics. */
    public List<String> all() {
        List<String> out = new ArrayList<>();
        for (Path area : files(root)) {
            if (Files.isDirectory(area)) {
                files(area).forEach(f -> out.add(area.getFileName() + "/" + f.getFileName()));
            }
        }
        return out;
    }

    private static List<Path> files(Path dir) {
        try (Stream<Path> list = Files.list(dir)) {
            return list.sorted().toList();
        } catch (NoSuchFileException none) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("failed to read '" + dir + "': " + e.getMessage(), e);
        }
    }

    /** {@code 10.0.0.7~2} (a second quarantine of 10.0.0.7) back to {@code 10.0.0.7}. */
    private static String originalName(String name) {
        int tilde = name.lastIndexOf(SUFFIX);
        return tilde > 0 ? name.substring(0, tilde) : name;
    }

    private static String escapeGlob(String name) {
        return name.replaceAll("([\\\\*?\\[\\]{}])", "\\\\$1");
    }
}
