package dev.ferry.capture;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.datapath.MirrorSlot;
import dev.ferry.net.IpPrefix;

import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Iterator;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * What {@code POST /v1/capture} asks for: a pod (namespace/name, container id or
 * address), when to stop, and the filter applied in BPF. Every value is checked
 * here, before anything is turned on.
 *
 * @param count    packets to capture, 0: no limit
 * @param duration how long, zero: no limit
 */
public record CaptureRequest(String pod, long count, Duration duration, Filter filter) {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> FIELDS = Set.of("pod", "count", "duration", "direction", "proto", "peer", "port");
    /** A capture that would outlive a day is a mistake, not a wish. */
    static final Duration MAX_DURATION = Duration.ofDays(1);

    /**
     * The BPF filter of a mirror slot, without its device. The same for
     * captures and persistent mirrors.
     *
     * @param directions {@link MirrorSlot#IN}, {@link MirrorSlot#OUT} or both
     * @param protocol   0 (any), 1 icmp, 6 tcp, 17 udp, 58 icmpv6
     * @param port       0: any
     */
    public record Filter(int directions, int protocol, Optional<InetAddress> peer, int port) {
        public static final Filter ANY = new Filter(MirrorSlot.IN | MirrorSlot.OUT, 0, Optional.empty(), 0);

        MirrorSlot toward(int ifindex) {
            return new MirrorSlot(ifindex, directions, protocol, port, peer);
        }

        /** The filter in the words {@code ferry capture} and the configuration take it in; "all" for any packet. */
        public String words() {
            java.util.List<String> words = new java.util.ArrayList<>();
            if (directions != (MirrorSlot.IN | MirrorSlot.OUT)) {
                words.add("direction " + (directions == MirrorSlot.IN ? "in" : "out"));
            }
            if (protocol != 0) {
                words.add("proto " + switch (protocol) {
                    case 1 -> "icmp";
                    case 6 -> "tcp";
                    case 17 -> "udp";
                    case 58 -> "icmpv6";
                    default -> Integer.toString(protocol);
                });
            }
            peer.ifPresent(p -> words.add("peer " + p.getHostAddress()));
            if (port != 0) {
                words.add("port " + port);
            }
            return words.isEmpty() ? "all" : String.join(" ", words);
        }

        /** Parses the filter words of the CLI and the configuration; null or empty means any. */
        public static Filter parse(String direction, String proto, String peer, String port) {
            int directions = switch (blankToNull(direction) == null ? "both" : direction.toLowerCase(Locale.ROOT)) {
                case "in" -> MirrorSlot.IN;
                case "out" -> MirrorSlot.OUT;
                case "both" -> MirrorSlot.IN | MirrorSlot.OUT;
                default -> throw bad("direction must be in, out or both, not '" + direction + "'");
            };
            int protocol = blankToNull(proto) == null ? 0 : switch (proto.toLowerCase(Locale.ROOT)) {
                case "tcp" -> 6;
                case "udp" -> 17;
                case "icmp" -> 1;
                case "icmpv6" -> 58;
                default -> throw bad("proto must be tcp, udp, icmp or icmpv6, not '" + proto + "'");
            };
            Optional<InetAddress> peerAddress = Optional.empty();
            if (blankToNull(peer) != null) {
                try {
                    peerAddress = Optional.of(IpPrefix.literal(peer.strip()));
                } catch (IllegalArgumentException e) {
                    throw bad("peer must be an IPv4 or IPv6 address, not '" + peer + "'");
                }
            }
            int portNumber = 0;
            if (blankToNull(port) != null) {
                portNumber = (int) parseWhole("port", port, 1, 65535);
                if (protocol != 0 && protocol != 6 && protocol != 17) {
                    throw bad("port filters TCP and UDP only; proto " + proto + " has no ports");
                }
            }
            return new Filter(directions, protocol, peerAddress, portNumber);
        }
    }

    public CaptureRequest {
        if (pod == null || pod.isBlank()) {
            throw bad("pod is required: namespace/name, a container id or an address");
        }
    }

    /** The request body: {"pod": ..., "count": "10", "duration": "30s", "direction": "in", "proto": "icmp", "peer": ..., "port": ...}. */
    public static CaptureRequest parse(byte[] body) {
        JsonNode json;
        try {
            json = JSON.readTree(body);
        } catch (IOException e) {
            throw bad("the request body is not JSON");
        }
        if (json == null || !json.isObject()) {
            throw bad("the request body must be a JSON object");
        }
        for (Iterator<String> names = json.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw bad("unknown field '" + name + "' (known: pod, count, duration, direction, proto, peer, port)");
            }
        }
        String count = text(json, "count");
        String duration = text(json, "duration");
        return new CaptureRequest(text(json, "pod"),
                count == null ? 0 : parseWhole("count", count, 1, Long.MAX_VALUE),
                duration == null ? Duration.ZERO : duration(duration),
                Filter.parse(text(json, "direction"), text(json, "proto"), text(json, "peer"), text(json, "port")));
    }

    private static String text(JsonNode json, String field) {
        JsonNode node = json.get(field);
        return node == null || node.isNull() ? null : blankToNull(node.asText());
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    static long parseWhole(String what, String text, long min, long max) {
        long value;
        try {
            value = Long.parseLong(text.strip());
        } catch (NumberFormatException e) {
            throw bad(what + " must be a whole number, not '" + text + "'");
        }
        if (value < min || value > max) {
            throw bad(what + " must be between " + min + " and " + max + ", not " + value);
        }
        return value;
    }

    /** 30, 30s, 5m, 1h: seconds unless a unit says otherwise. */
    static Duration duration(String text) {
        String t = text.strip().toLowerCase(Locale.ROOT);
        long unit = 1;
        if (t.endsWith("ms")) {
            throw bad("duration is whole seconds, minutes or hours (30s, 5m, 1h), not '" + text + "'");
        } else if (t.endsWith("s")) {
            t = t.substring(0, t.length() - 1);
        } else if (t.endsWith("m")) {
            unit = 60;
            t = t.substring(0, t.length() - 1);
        } else if (t.endsWith("h")) {
            unit = 3600;
            t = t.substring(0, t.length() - 1);
        }
        long amount;
        try {
            amount = Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw bad("duration must be like 30s, 5m or 1h, not '" + text + "'");
        }
        if (amount <= 0 || amount > MAX_DURATION.toSeconds() / unit) {
            throw bad("duration must be more than 0 and at most 24h, not '" + text + "'");
        }
        return Duration.ofSeconds(amount * unit);
    }

    static CaptureException bad(String message) {
        return new CaptureException(400, message);
    }
}
