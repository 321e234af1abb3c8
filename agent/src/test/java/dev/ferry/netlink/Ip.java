package dev.ferry.netlink;

import dev.ferry.testing.TestNetns;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/** What iproute2 says about a test namespace: the independent witness for everything RtNetlink does. */
final class Ip {
    private Ip() {}

    /** A link name unique to this run ("fnl" + 4 hex + suffix), short enough for IFNAMSIZ. */
    static String linkName(String suffix) {
        return "fnl" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0x10000)) + suffix;
    }

    /** {@code ip -n NS -j -d link show dev NAME}, or null when there is no such link. */
    static Map<String, Object> link(TestNetns ns, String name) {
        var r = ns.exec("ip", "-j", "-d", "link", "show", "dev", name);
        return r.ok() ? Json.objects(r.stdout()).getFirst() : null;
    }

    static List<String> linkNames(TestNetns ns) {
        return Json.objects(ns.ip("-j", "link", "show")).stream().map(l -> (String) l.get("ifname")).toList();
    }

    /** {@code ip -j [-4|-6] route show ARGS...} */
    static List<Map<String, Object>> routes(TestNetns ns, String... args) {
        List<String> cmd = new ArrayList<>(List.of("-j", "route", "show"));
        cmd.addAll(List.of(args));
        return Json.objects(ns.ip(cmd.toArray(String[]::new)));
    }

    static List<Map<String, Object>> routes6(TestNetns ns, String... args) {
        List<String> cmd = new ArrayList<>(List.of("-6", "-j", "route", "show"));
        cmd.addAll(List.of(args));
        return Json.objects(ns.ip(cmd.toArray(String[]::new)));
    }

    static List<Map<String, Object>> neighbours(TestNetns ns, String dev) {
        return Json.objects(ns.ip("-j", "neigh", "show", "dev", dev));
    }

    /** The addr_info entries of a link. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> addresses(TestNetns ns, String dev) {
        return (List<Map<String, Object>>) Json.objects(ns.ip("-j", "addr", "show", "dev", dev)).getFirst().get("addr_info");
    }

    @SuppressWarnings("unchecked")
    static List<String> flags(Map<String, Object> object) {
        return (List<String>) object.getOrDefault("flags", List.of());
    }
}
