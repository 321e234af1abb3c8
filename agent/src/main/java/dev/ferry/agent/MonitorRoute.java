package dev.ferry.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.api.ApiErrors;
import dev.ferry.api.ApiRequest;
import dev.ferry.api.ApiResponse;
import dev.ferry.api.ApiStream;
import dev.ferry.api.Routes;
import dev.ferry.datapath.MonitorEvent;
import dev.ferry.datapath.Reason;
import dev.ferry.datapath.Verdict;
import dev.ferry.monitor.Monitor;
import dev.ferry.monitor.MonitorFilter;
import dev.ferry.monitor.MonitorUpdate;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * {@code POST /v1/monitor}: the datapath's decision events as a stream of JSON
 * lines, filtered here by pod, verdict and reason; the body names the filter:
 * {@code {"pod": "NS/NAME", "verdict": "drop", "reason": "spoofed_source", "sampleRedirects": N}},
 * every field optional. The first line, {@code {"type":"attached"}}, says the
 * events are on; then {@code "event"} lines, and a {@code "missed"} line when
 * what was suppressed, lost or dropped for this client moved.
 */
final class MonitorRoute implements Routes.Handler {
    static final String PATH = "/v1/monitor";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> FIELDS = Set.of("pod", "verdict", "reason", "sampleRedirects");

    private final Monitor monitor;

    MonitorRoute(Monitor monitor) {
        this.monitor = monitor;
    }

    @Override
    public ApiResponse handle(ApiRequest request, Map<String, String> vars) {
        JsonNode body;
        try {
            byte[] raw = request.body();
            body = raw.length == 0 ? JSON.createObjectNode() : JSON.readTree(raw);
        } catch (IOException e) {
            return ApiErrors.error(400, "the monitor request is not JSON");
        }
        if (body == null || !body.isObject()) {
            return ApiErrors.error(400, "the monitor request must be a JSON object");
        }
        for (var names = body.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                return ApiErrors.error(400, "unknown monitor field '" + name + "' (known: pod, verdict, reason, sampleRedirects)");
            }
        }
        Optional<Verdict> verdict;
        Optional<Reason> reason;
        int sample;
        try {
            verdict = text(body, "verdict").map(MonitorRoute::verdict);
            reason = text(body, "reason").map(MonitorRoute::reason);
            sample = sample(body);
        } catch (IllegalArgumentException e) {
            return ApiErrors.error(400, e.getMessage());
        }
        Set<Integer> endpointIds = Set.of();
        Optional<String> pod;
        try {
            pod = text(body, "pod");
        } catch (IllegalArgumentException e) {
            return ApiErrors.error(400, e.getMessage());
        }
        if (pod.isPresent()) {
            String[] parts = pod.get().split("/", -1);
            if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
                return ApiErrors.error(400, "a pod is NAMESPACE/NAME, not '" + pod.get() + "'");
            }
            Optional<Set<Integer>> ids = monitor.endpointIdsOf(parts[0], parts[1]);
            if (ids.isEmpty()) {
                return ApiErrors.error(404, "no pod '" + pod.get() + "' on this node");
            }
            endpointIds = ids.get();
        }
        MonitorFilter filter = new MonitorFilter(endpointIds, verdict, reason);
        return ApiResponse.jsonLines(sink -> attach(sink, filter, sample));
    }

    private void attach(ApiStream.StreamSink sink, MonitorFilter filter, int sample) {
        Monitor.Subscription subscription = monitor.subscribe(filter, sample, new Monitor.Sink() {
            @Override
            public boolean offer(MonitorUpdate update) {
                return sink.offer(line(update));
            }

            @Override
            public void ended(String why) {
                sink.offer(line(JSON.createObjectNode().put("type", "ended").put("reason", why)));
                sink.end();
            }
        });
        sink.onEnd(subscription::close);
        sink.offer(line(JSON.createObjectNode().put("type", "attached")));
    }

    private static Optional<String> text(JsonNode body, String field) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return Optional.empty();
        }
        if (!node.isTextual()) {
            throw new IllegalArgumentException("'" + field + "' must be a string");
        }
        return Optional.of(node.asText());
    }

    private static int sample(JsonNode body) {
        JsonNode node = body.get("sampleRedirects");
        if (node == null || node.isNull()) {
            return 0;
        }
        if (!node.canConvertToInt() || !node.isIntegralNumber() || node.asInt() < 0) {
            throw new IllegalArgumentException("sampleRedirects must be a whole number from 0 (none) up, not " + node);
        }
        return node.asInt();
    }

    static Verdict verdict(String label) {
        return Arrays.stream(Verdict.values()).filter(v -> v.label().equals(label)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown verdict '" + label + "' (known: "
                        + Arrays.stream(Verdict.values()).map(Verdict::label).collect(Collectors.joining(", ")) + ")"));
    }

    static Reason reason(String label) {
        return Arrays.stream(Reason.values()).filter(r -> r.label().equals(label)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown reason '" + label + "' (known: "
                        + Arrays.stream(Reason.values()).map(Reason::label).collect(Collectors.joining(", ")) + ")"));
    }

    private static byte[] line(MonitorUpdate update) {
        return switch (update) {
            case MonitorUpdate.Event e -> line(event(e));
            case MonitorUpdate.Missed m -> line(JSON.createObjectNode().put("type", "missed")
                    .put("suppressed", m.suppressed()).put("lost", m.lost()).put("dropped", m.dropped()));
        };
    }

    private static ObjectNode event(MonitorUpdate.Event update) {
        MonitorEvent e = update.event();
        ObjectNode node = JSON.createObjectNode()
                .put("type", "event")
                .put("time", wallClock(e.timestampNanos()).toString())
                .put("direction", e.direction().label())
                .put("verdict", e.verdict().label())
                .put("reason", e.reason().label())
                .put("protocol", protocol(e.protocol()));
        e.source().ifPresent(a -> node.put("source", a.getHostAddress()));
        e.destination().ifPresent(a -> node.put("destination", a.getHostAddress()));
        if (e.sourcePort() != 0 || e.destinationPort() != 0) {
            node.put("sourcePort", e.sourcePort()).put("destinationPort", e.destinationPort());
        }
        node.put("ifindex", e.ifindex()).put("length", e.length());
        if (e.sourceEndpoint() != 0) {
            node.put("sourceEndpoint", e.sourceEndpoint());
        }
        if (e.destinationEndpoint() != 0) {
            node.put("destinationEndpoint", e.destinationEndpoint());
        }
        update.sourcePod().ifPresent(p -> node.put("sourcePod", p));
        update.destinationPod().ifPresent(p -> node.put("destinationPod", p));
        return node;
    }

    /** bpf_ktime_get_ns and System.nanoTime are both CLOCK_MONOTONIC on Linux; microseconds are all a log needs. */
    private static Instant wallClock(long monotonicNanos) {
        return Instant.now().minusNanos(System.nanoTime() - monotonicNanos).truncatedTo(ChronoUnit.MICROS);
    }

    private static String protocol(int number) {
        return switch (number) {
            case 0 -> "none";
            case 1 -> "icmp";
            case 6 -> "tcp";
            case 17 -> "udp";
            case 58 -> "icmpv6";
            default -> String.valueOf(number);
        };
    }

    private static byte[] line(ObjectNode node) {
        try {
            return (JSON.writeValueAsString(node) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
