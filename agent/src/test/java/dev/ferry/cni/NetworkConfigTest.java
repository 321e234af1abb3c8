package dev.ferry.cni;

import static dev.ferry.cni.Cni.assertCniError;
import static dev.ferry.cni.Cni.bytes;
import static dev.ferry.cni.Cni.config;
import static dev.ferry.cni.Cni.tree;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.net.IpPrefix;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NetworkConfigTest {

    @Test
    void minimalConfigurationParsesWithDefaults() {
        NetworkConfig c = NetworkConfig.parse(config("1.1.0", ""));
        assertEquals("1.1.0", c.cniVersion());
        assertEquals("ferry", c.name());
        assertEquals(OptionalInt.empty(), c.mtu());
        assertTrue(c.dns().isEmpty());
        assertTrue(c.prevResult().isEmpty());
        assertTrue(c.validAttachments().isEmpty());
    }

    @Test
    void optionalFieldsAreRead() {
        NetworkConfig c = NetworkConfig.parse(config("1.0.0", """
                ,"mtu":1450,"agentSocket":"/run/ferry/ferry.sock","spoolDir":"/var/spool/ferry",
                "dns":{"nameservers":["10.96.0.10"],"domain":"cluster.local","search":["svc.cluster.local"],"options":["ndots:5"]}"""));
        assertEquals(OptionalInt.of(1450), c.mtu());
        assertEquals("/run/ferry/ferry.sock", c.agentSocket().orElseThrow());
        assertEquals("/var/spool/ferry", c.spoolDir().orElseThrow());
        assertEquals(new Dns(List.of("10.96.0.10"), "cluster.local", List.of("svc.cluster.local"), List.of("ndots:5")), c.dns());
    }

    @Test
    void unknownTopLevelFieldsAreAllowed() {
        NetworkConfig c = NetworkConfig.parse(config("1.0.0", ",\"runtimeConfig\":{\"portMappings\":[]},\"capabilities\":{\"x\":true},\"args\":{}"));
        assertEquals("ferry", c.name());
    }

    @Test
    void malformedJsonIsCode6() {
        assertCniError(CniError.DECODING_FAILURE, "failed to decode network configuration",
                () -> NetworkConfig.parse(bytes("{\"cniVersion\":")));
    }

    @Test
    void emptyBodyIsCode6() {
        assertCniError(CniError.DECODING_FAILURE, "empty", () -> NetworkConfig.parse(new byte[0]));
    }

    @Test
    void fieldOfWrongTypeIsCode6NamingTheField() {
        assertCniError(CniError.DECODING_FAILURE, "mtu", () -> NetworkConfig.parse(config("1.0.0", ",\"mtu\":\"big\"")));
    }

    @Test
    void missingCniVersionIsCode1NamingSupportedVersions() {
        CniError e = assertCniError(CniError.INCOMPATIBLE_CNI_VERSION, "incompatible CNI versions",
                () -> NetworkConfig.parse(bytes("{\"name\":\"ferry\",\"type\":\"ferry-cni\"}")));
        assertTrue(e.details().contains("\"1.1.0\"") && e.details().contains("\"0.3.0\""), e.details());
        assertTrue(e.details().contains("missing"), e.details());
    }

    @ParameterizedTest
    @ValueSource(strings = {"0.2.0", "0.1.0", "1.2.0", "2.0.0"})
    void unsupportedCniVersionIsCode1NamingIt(String version) {
        CniError e = assertCniError(CniError.INCOMPATIBLE_CNI_VERSION, "\"" + version + "\"", () -> NetworkConfig.parse(config(version, "")));
        assertEquals("incompatible CNI versions", e.msg());
        assertTrue(e.details().contains("plugin supports [\"0.3.0\" \"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]"), e.details());
    }

    @Test
    void missingNameIsCode7() {
        assertCniError(CniError.INVALID_NETWORK_CONFIG, "missing network name",
                () -> NetworkConfig.parse(bytes("{\"cniVersion\":\"1.0.0\",\"type\":\"ferry-cni\"}")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"-ferry", "fer ry", "ferry/net", "_x"})
    void invalidNameIsCode7NamingIt(String name) {
        assertCniError(CniError.INVALID_NETWORK_CONFIG, name,
                () -> NetworkConfig.parse(bytes("{\"cniVersion\":\"1.0.0\",\"name\":\"" + name + "\",\"type\":\"ferry-cni\"}")));
    }

    @Test
    void foreignTypeIsCode7NamingIt() {
        assertCniError(CniError.INVALID_NETWORK_CONFIG, "'bridge'",
                () -> NetworkConfig.parse(bytes("{\"cniVersion\":\"1.0.0\",\"name\":\"ferry\",\"type\":\"bridge\"}")));
    }

    @Test
    void missingTypeIsCode7() {
        assertCniError(CniError.INVALID_NETWORK_CONFIG, "type is missing",
                () -> NetworkConfig.parse(bytes("{\"cniVersion\":\"1.0.0\",\"name\":\"ferry\"}")));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 67, 65536, -1})
    void mtuOutOfRangeIsCode7NamingIt(int mtu) {
        assertCniError(CniError.INVALID_NETWORK_CONFIG, "mtu " + mtu, () -> NetworkConfig.parse(config("1.0.0", ",\"mtu\":" + mtu)));
    }

    @ParameterizedTest
    @ValueSource(ints = {68, 1500, 65535})
    void mtuAtTheBoundsIsAccepted(int mtu) {
        assertEquals(OptionalInt.of(mtu), NetworkConfig.parse(config("1.0.0", ",\"mtu\":" + mtu)).mtu());
    }

    @Test
    void prevResultIsKeptAsJsonAndParses() {
        String prev = "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/run/netns/p\"}],"
                + "\"ips\":[{\"interface\":0,\"address\":\"10.244.1.5/32\"}],\"dns\":{}}";
        NetworkConfig c = NetworkConfig.parse(config("1.0.0", ",\"prevResult\":" + prev));
        assertEquals(tree(prev), tree(c.prevResult().orElseThrow()));
        assertEquals(IpPrefix.parse("10.244.1.5/32"), c.previousResult().orElseThrow().ips().getFirst().address());
    }

    @Test
    void validAttachmentsAreParsed() {
        NetworkConfig c = NetworkConfig.parse(config("1.1.0", """
                ,"cni.dev/valid-attachments":[{"containerID":"abc","ifname":"eth0"},{"containerID":"def","ifname":"net1"}]"""));
        assertEquals(List.of(new NetworkConfig.Attachment("abc", "eth0"), new NetworkConfig.Attachment("def", "net1")),
                c.validAttachments());
    }

    @Test
    void validAttachmentWithoutIfnameIsCode7NamingTheEntry() {
        assertCniError(CniError.INVALID_NETWORK_CONFIG, "cni.dev/valid-attachments[1]", () -> NetworkConfig.parse(config("1.1.0", """
                ,"cni.dev/valid-attachments":[{"containerID":"abc","ifname":"eth0"},{"containerID":"def"}]""")));
    }

    @Test
    void commandNewerThanTheConfigVersionIsCode1() {
        NetworkConfig c = NetworkConfig.parse(config("0.4.0", ""));
        CniError e = assertCniError(CniError.INCOMPATIBLE_CNI_VERSION, "STATUS", () -> c.requireCommand(CniCommand.STATUS));
        assertEquals("config version does not allow STATUS", e.msg());
        assertTrue(e.details().contains("1.1.0"), e.details());
    }

    @Test
    void checkIsAllowedFrom040AndNotBefore() {
        NetworkConfig.parse(config("0.4.0", "")).requireCommand(CniCommand.CHECK);
        assertCniError(CniError.INCOMPATIBLE_CNI_VERSION, "CHECK",
                () -> NetworkConfig.parse(config("0.3.1", "")).requireCommand(CniCommand.CHECK));
    }
}
