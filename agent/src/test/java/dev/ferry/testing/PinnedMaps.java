package dev.ferry.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.datapath.MapLayouts;
import dev.ferry.net.IpPrefix;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A pinned BPF map as bpftool reads it, the way an operator would: what the
 * datapath holds, whatever the agent believes.
 */
public final class PinnedMaps {
    private static final ObjectMapper JSON = new ObjectMapper();

    private PinnedMaps() {}

    /** The raw keys of the map pinned at {@code pin}. */
    public static List<byte[]> keys(Path pin) {
        JsonNode entries;
        try {
            entries = JSON.readTree(Shell.run("bpftool", "-j", "map", "dump", "pinned", pin.toString()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<byte[]> keys = new ArrayList<>();
        for (JsonNode entry : entries) {
            JsonNode hex = entry.path("key");
            byte[] key = new byte[hex.size()];
            for (int i = 0; i < key.length; i++) {
                key[i] = (byte) Integer.parseInt(hex.get(i).asText().substring(2), 16);
            }
            keys.add(key);
        }
        return keys;
    }

    /** The prefixes of a cluster-CIDR map (bpf/lib/abi.h struct cidr_key: prefixlen, family, pad, addr). */
    public static Set<IpPrefix> cidrs(Path pin) {
        Set<IpPrefix> cidrs = new LinkedHashSet<>();
        for (byte[] key : keys(pin)) {
            int prefixlen = ByteBuffer.wrap(key, 0, 4).order(ByteOrder.nativeOrder()).getInt();
            int addressBytes = key[4] == MapLayouts.FAMILY_IPV4 ? 4 : 16;
            try {
                InetAddress network = InetAddress.getByAddress(Arrays.copyOfRange(key, 8, 8 + addressBytes));
                cidrs.add(new IpPrefix(network, prefixlen - MapLayouts.CIDR_FAMILY_BITS));
            } catch (UnknownHostException e) {
                throw new AssertionError(e);
            }
        }
        return cidrs;
    }
}
