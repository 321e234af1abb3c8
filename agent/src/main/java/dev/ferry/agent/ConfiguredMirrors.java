package dev.ferry.agent;

import dev.ferry.capture.CaptureException;
import dev.ferry.capture.CaptureRequest;
import dev.ferry.capture.MirrorConfig;
import dev.ferry.net.IpPrefix;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** The configuration's {@code mirrors}: each a name, the pods' CIDRs, an existing device and the capture filter. */
final class ConfiguredMirrors {
    static final Set<String> KEYS = Set.of("name", "pods", "device", "direction", "proto", "peer", "port");

    private ConfiguredMirrors() {}

    static List<MirrorConfig> parse(YamlFields f) {
        List<MirrorConfig> mirrors = new ArrayList<>();
        for (YamlFields m : f.mappings("mirrors", KEYS).orElse(List.of())) {
            String name = m.string("name").orElseThrow(() -> new ConfigException("key '" + m.key("name") + "' is required"));
            if (mirrors.stream().anyMatch(other -> other.name().equals(name))) {
                throw new ConfigException("key '" + m.key("name") + "': mirror '" + name + "' is listed twice");
            }
            List<IpPrefix> pods = m.list("pods", ConfigValues::cidr).filter(l -> !l.isEmpty())
                    .orElseThrow(() -> new ConfigException("key '" + m.key("pods") + "' is required (the CIDRs of the pods to mirror)"));
            String device = m.string("device").map(d -> ConfigValues.ifname(m.key("device"), d))
                    .orElseThrow(() -> new ConfigException("key '" + m.key("device") + "' is required (the device copies go to)"));
            CaptureRequest.Filter filter;
            try {
                filter = CaptureRequest.Filter.parse(m.string("direction").orElse(null), m.string("proto").orElse(null),
                        m.string("peer").orElse(null), m.scalar("port").orElse(null));
            } catch (CaptureException e) {
                // The filter's words name the key; the configuration's errors name its path.
                String key = e.getMessage().substring(0, e.getMessage().indexOf(' '));
                throw new ConfigException("key '" + m.key(key) + "': " + e.getMessage());
            }
            mirrors.add(new MirrorConfig(name, pods, device, filter));
        }
        return mirrors;
    }
}
