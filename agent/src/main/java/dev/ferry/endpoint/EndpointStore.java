package dev.ferry.endpoint;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.linux.AtomicFile;
import dev.ferry.net.IpPrefix;
import dev.ferry.net.IpText;
import dev.ferry.net.MacAddress;
import dev.ferry.state.Quarantine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Endpoints on disk, one JSON file each under {@code stateDir/endpoints}, so a
 * restarted agent knows every pod it plumbed. Each file is replaced whole
 * ({@link AtomicFile}): after a crash it is the old version or the new one.
 * Not fsynced: the agent discards the state of an earlier boot, whose pods are
 * gone (dev.ferry.agent.BootScopedState).
 *
 * <p>A file that does not read as an endpoint is moved to the state's quarantine
 * ({@code stateDir/quarantine/endpoints/}) and the others are served. Nothing is
 * lost for DEL and GC: the pod's address is IPAM's and its host veth's name
 * derives from its container id, so a DEL of that pod still removes it all.
 */
final class EndpointStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SUFFIX = ".json";
    private static final Set<PosixFilePermission> PRIVATE = PosixFilePermissions.fromString("rw-------");
    private static final int FORMAT = 1;
    /** The quarantine area of endpoint files. */
    private static final String AREA = "endpoints";

    private final Path dir;
    private final Quarantine quarantine;

    private EndpointStore(Path dir, Quarantine quarantine) {
        this.dir = dir;
        this.quarantine = quarantine;
    }

    static EndpointStore open(Path stateDir) {
        Path dir = stateDir.resolve(AREA);
        try {
            Files.createDirectories(dir, AtomicFile.ROOT_ONLY_DIRECTORY);
            try (DirectoryStream<Path> temps = Files.newDirectoryStream(dir, AtomicFile.TEMP_PREFIX + "*")) {
                for (Path temp : temps) {
                    Files.deleteIfExists(temp); // a write a crash interrupted; the renamed version is intact
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("failed to open endpoint state '" + dir + "': " + e, e);
        }
        return new EndpointStore(dir, Quarantine.of(stateDir));
    }

    Path dir() {
        return dir;
    }

    Optional<Endpoint> get(EndpointKey key) {
        return read(fileOf(key));
    }

    /** Every readable endpoint; an unreadable file is quarantined on the way, never deleted. */
    List<Endpoint> all() {
        List<Endpoint> out = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path file : files) {
                if (!file.getFileName().toString().startsWith(".")) {
                    read(file).ifPresent(out::add);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("failed to list endpoint state '" + dir + "': " + e, e);
        }
        out.sort(Comparator.comparing(Endpoint::containerId).thenComparing(Endpoint::ifname));
        return out;
    }

    void write(Endpoint endpoint) {
        Path file = fileOf(new EndpointKey(endpoint.containerId(), endpoint.ifname()));
        try {
            AtomicFile.replaceForThisBoot(file, toJson(endpoint).getBytes(StandardCharsets.UTF_8), PRIVATE);
        } catch (IOException e) {
            throw new UncheckedIOException("failed to write endpoint state '" + file + "': " + e, e);
        }
    }

    /** False when there was nothing to delete. */
    boolean delete(EndpointKey key) {
        try {
            return Files.deleteIfExists(fileOf(key));
        } catch (IOException e) {
            throw new UncheckedIOException("failed to delete endpoint state of " + key + ": " + e, e);
        }
    }

    /** Whether the endpoint's file was quarantined: the pod was plumbed whole, only its record is unreadable. */
    boolean quarantined(EndpointKey key) {
        return quarantine.holds(AREA, fileOf(key).getFileName().toString());
    }

    Path fileOf(EndpointKey key) {
        return dir.resolve(key.containerId() + "@" + encode(key.ifname()) + SUFFIX);
    }

    /**
     * Container ids are [A-Za-z0-9_.-] (the spec's pattern, checked before we get
     * here), so '@' separates; an ifname may hold almost anything but '/' and
     * whitespace, so every other byte is percent-encoded.
     */
    static String encode(String ifname) {
        StringBuilder sb = new StringBuilder();
        for (byte b : ifname.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'
                    || (c == '.' && sb.length() > 0)) {
                sb.append(c);
            } else {
                sb.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return sb.toString();
    }

    private Optional<Endpoint> read(Path file) {
        try {
            return Optional.of(fromJson(JSON.readTree(Files.readAllBytes(file))));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (JacksonException e) {
            quarantine.moveAside(AREA, file, "not JSON: " + e.getOriginalMessage());
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("failed to read endpoint state '" + file + "': " + e, e);
        } catch (RuntimeException e) {
            // A field of the wrong shape: a bad address or MAC, a "created" that is no instant, a missing field.
            quarantine.moveAside(AREA, file, "not an endpoint: " + e.getMessage());
            return Optional.empty();
        }
    }

    static String toJson(Endpoint e) {
        ObjectNode o = JSON.createObjectNode();
        o.put("format", FORMAT);
        o.put("containerId", e.containerId());
        o.put("ifname", e.ifname());
        o.put("netns", e.netns());
        o.put("hostIfname", e.hostIfname());
        o.put("hostIfindex", e.hostIfindex());
        o.put("address", IpText.format(e.address()));
        // Only on dual-stack endpoints: a single-stack file stays byte for byte what it was.
        e.address6().ifPresent(a -> o.put("address6", IpText.format(a)));
        o.put("podMac", e.podMac().toString());
        o.put("hostMac", e.hostMac().toString());
        o.put("endpointId", e.endpointId());
        o.put("mtu", e.mtu());
        e.podNamespace().ifPresent(v -> o.put("podNamespace", v));
        e.podName().ifPresent(v -> o.put("podName", v));
        e.podUid().ifPresent(v -> o.put("podUid", v));
        o.put("created", e.created().toString());
        return o.toPrettyString();
    }

    static Endpoint fromJson(JsonNode o) {
        if (o.path("format").asInt() != FORMAT) {
            throw new IllegalArgumentException("unknown state format " + o.path("format"));
        }
        return new Endpoint(
                text(o, "containerId"), text(o, "ifname"), text(o, "netns"), text(o, "hostIfname"),
                o.path("hostIfindex").asInt(),
                IpPrefix.parse(text(o, "address")),
                optional(o, "address6").map(IpPrefix::parse), // absent in files of agents before dual stack
                MacAddress.parse(text(o, "podMac")), MacAddress.parse(text(o, "hostMac")),
                o.path("endpointId").asInt(), o.path("mtu").asInt(),
                optional(o, "podNamespace"), optional(o, "podName"), optional(o, "podUid"),
                Instant.parse(text(o, "created")));
    }

    private static String text(JsonNode o, String field) {
        JsonNode n = o.get(field);
        if (n == null || !n.isTextual()) {
            throw new IllegalArgumentException("field '" + field + "' is missing or not a string");
        }
        return n.asText();
    }

    private static Optional<String> optional(JsonNode o, String field) {
        JsonNode n = o.get(field);
        return n == null || !n.isTextual() ? Optional.empty() : Optional.of(n.asText());
    }
}
