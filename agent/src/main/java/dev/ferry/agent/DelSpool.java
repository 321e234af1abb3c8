package dev.ferry.agent;

import dev.ferry.cni.CniCommand;
import dev.ferry.cni.CniError;
import dev.ferry.cni.CniException;
import dev.ferry.cni.CniHandler;
import dev.ferry.cni.CniReply;
import dev.ferry.cni.CniRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The DELs ferry-cni wrote to disk while the agent was unreachable
 * ({@code <spoolDir>/del-<containerId>-<ifname>.req}, see cni-plugin/src/spool.h),
 * replayed through the CNI service when the agent starts.
 *
 * <p>Each file is handled on its own and nothing stops the start: a replayed DEL
 * that succeeds removes its file; one that fails stays for the next start (its
 * pod's resources are still held, and a later DEL may free them); a file that
 * cannot be a DEL is renamed {@code .bad} and logged, never silently dropped.
 */
final class DelSpool {
    private static final Logger log = LoggerFactory.getLogger(DelSpool.class);

    static final String TEMP_PREFIX = ".tmp-del.";
    static final String BAD_SUFFIX = ".bad";
    /**
     * ferry-cni writes, fsyncs and renames a temporary file within milliseconds;
     * one older than this was left by a plugin that died. A younger one may be
     * a plugin at work right now: deleting it would make that DEL fail.
     */
    static final Duration STALE_TEMP_AGE = Duration.ofMinutes(1);
    /** ferry-cni sends at most 1 MiB of configuration; anything much larger is not one of its files. */
    static final long MAX_FILE_BYTES = 2L * 1024 * 1024;

    /** What one drain did. */
    record Drain(int replayed, int failed, int malformed, int staleTemps) {
        static final Drain NOTHING = new Drain(0, 0, 0, 0);
    }

    private final Path dir;
    private final Clock clock;
    /** Files this agent has handled already: a failed DEL waits for the next start, not the next drain. */
    private final Set<Path> attempted = new HashSet<>();

    DelSpool(Path dir) {
        this(dir, Clock.systemUTC());
    }

    DelSpool(Path dir, Clock clock) {
        this.dir = dir;
        this.clock = clock;
    }

    Path dir() {
        return dir;
    }

    /** Replays every spooled DEL this spool has not tried yet through {@code cni}, in file name order. */
    Drain drain(CniHandler cni) {
        if (!Files.isDirectory(dir)) {
            return Drain.NOTHING;
        }
        int replayed = 0, failed = 0, malformed = 0, stale = 0;
        for (Path file : listing()) {
            String name = file.getFileName().toString();
            if (name.startsWith(TEMP_PREFIX)) {
                stale += removeIfStale(file) ? 1 : 0;
            } else if (name.startsWith("del-") && name.endsWith(".req") && attempted.add(file)) {
                switch (replay(file, cni)) {
                    case REPLAYED -> replayed++;
                    case FAILED -> failed++;
                    case MALFORMED -> malformed++;
                }
            }
        }
        return new Drain(replayed, failed, malformed, stale);
    }

    private enum Result { REPLAYED, FAILED, MALFORMED }

    private Result replay(Path file, CniHandler cni) {
        CniRequest request;
        try {
            request = read(file);
        } catch (SpooledRequest.Malformed e) {
            moveAside(file, e.getMessage());
            return Result.MALFORMED;
        }
        CniReply reply;
        try {
            reply = cni.handle(request);
        } catch (RuntimeException e) {
            log.warn("event=spool_del_failed file={} container_id={} ifname={} error=\"{}\" action=kept_for_next_start",
                    file, request.containerId(), request.ifname(), e.toString());
            return Result.FAILED;
        }
        if (!(reply instanceof CniError)) { // DEL answers no output on success, of something or of nothing
            delete(file);
            log.info("event=spool_del_replayed file={} container_id={} ifname={}", file, request.containerId(), request.ifname());
            return Result.REPLAYED;
        }
        CniError error = (CniError) reply;
        String why = "code=" + error.code() + " msg=\"" + error.msg() + "\" details=\"" + error.details() + "\"";
        log.warn("event=spool_del_failed file={} container_id={} ifname={} {} action=kept_for_next_start",
                file, request.containerId(), request.ifname(), why);
        return Result.FAILED;
    }

    private static CniRequest read(Path file) throws SpooledRequest.Malformed {
        byte[] data;
        try {
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                throw new SpooledRequest.Malformed("not a regular file");
            }
            if (Files.size(file) > MAX_FILE_BYTES) {
                throw new SpooledRequest.Malformed("larger than " + MAX_FILE_BYTES + " bytes");
            }
            // ferry-cni runs as root and writes 0600 (mkostemp): anything else was put there by someone else,
            // and replaying it would let them DEL any pod.
            int uid = (Integer) Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            if (uid != 0) {
                throw new SpooledRequest.Malformed("owned by uid " + uid + ", not root, which ferry-cni runs as");
            }
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
            if (!Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE).containsAll(mode)) {
                throw new SpooledRequest.Malformed("mode " + PosixFilePermissions.toString(mode)
                        + " opens it to others than root; ferry-cni writes rw-------");
            }
            data = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new SpooledRequest.Malformed("unreadable: " + e);
        }
        SpooledRequest spooled = SpooledRequest.parse(data);
        String command = spooled.headers().getOrDefault(CniRequest.COMMAND, "");
        if (!command.equals(CniCommand.DEL.name())) {
            // ferry-cni spools nothing else; replaying an ADD from disk would plumb a pod nobody asked for now.
            throw new SpooledRequest.Malformed("CNI-Command is '" + command + "', only DEL is ever spooled");
        }
        try {
            return CniRequest.fromHeaders(spooled.headers(), spooled.body());
        } catch (CniException e) {
            throw new SpooledRequest.Malformed("not a valid CNI request: " + e.getMessage());
        }
    }

    private void moveAside(Path file, String reason) {
        Path bad = file.resolveSibling(file.getFileName() + BAD_SUFFIX);
        try {
            Files.move(file, bad, StandardCopyOption.REPLACE_EXISTING);
            log.error("event=spool_file_malformed file={} reason=\"{}\" moved_to={}", file, reason, bad);
        } catch (IOException e) {
            log.error("event=spool_file_malformed file={} reason=\"{}\" move_failed=\"{}\"", file, reason, e.toString());
        }
    }

    private boolean removeIfStale(Path temp) {
        try {
            Instant modified = Files.getLastModifiedTime(temp, LinkOption.NOFOLLOW_LINKS).toInstant();
            if (modified.plus(STALE_TEMP_AGE).isAfter(clock.instant())) {
                return false;
            }
            Files.deleteIfExists(temp);
            log.info("event=spool_temp_removed file={} modified={}", temp, modified);
            return true;
        } catch (IOException e) {
            log.warn("event=spool_temp_remove_failed file={} error=\"{}\"", temp, e.toString());
            return false;
        }
    }

    private static void delete(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // Harmless: the next start replays a DEL that finds nothing, which is success.
            log.warn("event=spool_remove_failed file={} error=\"{}\"", file, e.toString());
        }
    }

    /** An unreadable spool is logged, not fatal: the node can still serve new pods. */
    private List<Path> listing() {
        try (Stream<Path> files = Files.list(dir)) {
            return files.sorted().toList();
        } catch (IOException e) {
            log.error("event=spool_unreadable dir={} error=\"{}\" action=skipped", dir, e.toString());
            return List.of();
        }
    }
}
