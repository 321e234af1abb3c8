package dev.ferry.egress;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The id of each route by name, kept across agents: the pinned tables name
 * routes by id, and a next agent that numbered them afresh would, until its plan
 * is written, send one route's pods to another's next hops. One line per route,
 * {@code id name}; written whole and renamed into place.
 */
final class RouteIds {
    private static final Logger log = LoggerFactory.getLogger(RouteIds.class);
    private final Path file;

    RouteIds(Path file) {
        this.file = file;
    }

    /** Empty when there is no file yet; a line that does not parse is skipped (its route gets a fresh id). */
    Map<String, Integer> read() {
        Map<String, Integer> ids = new HashMap<>();
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                String[] parts = line.trim().split(" ", 2);
                try {
                    if (parts.length == 2) {
                        ids.put(parts[1], Integer.parseInt(parts[0]));
                    }
                } catch (NumberFormatException e) {
                    log.warn("event=egress_route_ids_line_skipped file={} line=\"{}\"", file, line);
                }
            }
        } catch (NoSuchFileException e) {
            return Map.of();
        } catch (IOException e) {
            log.warn("event=egress_route_ids_unreadable file={} error=\"{}\" action=fresh_ids", file, e.toString());
            return Map.of();
        }
        return ids;
    }

    void write(Map<String, Integer> ids) {
        StringBuilder text = new StringBuilder();
        new TreeMap<>(ids).forEach((name, id) -> text.append(id).append(' ').append(name).append('\n'));
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            // The routes are in force either way; only a next agent's first plan may renumber them.
            log.warn("event=egress_route_ids_not_written file={} error=\"{}\"", file, e.toString());
        }
    }
}
