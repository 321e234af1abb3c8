package dev.ferry.cni;

import static dev.ferry.cni.Cni.assertCniError;
import static dev.ferry.cni.Cni.tree;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ferry.net.IpPrefix;
import dev.ferry.net.MacAddress;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CniResultTest {
    /** What Ferry's ADD answers: host veth, pod interface, a v4 and a v6 address, a default route, DNS. */
    static final CniResult POD = new CniResult(
            List.of(new CniResult.Interface("fer0123456789a", Optional.of(MacAddress.parse("aa:bb:cc:dd:ee:01")), Optional.empty()),
                    new CniResult.Interface("eth0", Optional.of(MacAddress.parse("aa:bb:cc:dd:ee:02")), Optional.of("/var/run/netns/pod"))),
            List.of(new CniResult.IpConfig(IpPrefix.parse("10.244.1.5/32"), Optional.of(IpPrefix.literal("169.254.1.1")), Optional.of(1)),
                    new CniResult.IpConfig(IpPrefix.parse("fd00:0:0:0::5/128"), Optional.empty(), Optional.of(1))),
            List.of(new CniResult.Route(IpPrefix.DEFAULT_V4, Optional.of(IpPrefix.literal("169.254.1.1"))),
                    new CniResult.Route(IpPrefix.DEFAULT_V6, Optional.empty())),
            new Dns(List.of("10.96.0.10"), "cluster.local", List.of("default.svc.cluster.local"), List.of()));

    @Test
    void renders110ExactlyWithoutIpVersions() {
        assertEquals("{\"cniVersion\":\"1.1.0\","
                + "\"interfaces\":[{\"name\":\"fer0123456789a\",\"mac\":\"aa:bb:cc:dd:ee:01\"},"
                + "{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:02\",\"sandbox\":\"/var/run/netns/pod\"}],"
                + "\"ips\":[{\"interface\":1,\"address\":\"10.244.1.5/32\",\"gateway\":\"169.254.1.1\"},"
                + "{\"interface\":1,\"address\":\"fd00::5/128\"}],"
                + "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"169.254.1.1\"},{\"dst\":\"::/0\"}],"
                + "\"dns\":{\"nameservers\":[\"10.96.0.10\"],\"domain\":\"cluster.local\",\"search\":[\"default.svc.cluster.local\"]}}",
                POD.toJson("1.1.0"));
    }

    @Test
    void renders031ExactlyWithIpVersions() {
        assertEquals("{\"cniVersion\":\"0.3.1\","
                + "\"interfaces\":[{\"name\":\"fer0123456789a\",\"mac\":\"aa:bb:cc:dd:ee:01\"},"
                + "{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:02\",\"sandbox\":\"/var/run/netns/pod\"}],"
                + "\"ips\":[{\"version\":\"4\",\"interface\":1,\"address\":\"10.244.1.5/32\",\"gateway\":\"169.254.1.1\"},"
                + "{\"version\":\"6\",\"interface\":1,\"address\":\"fd00::5/128\"}],"
                + "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"169.254.1.1\"},{\"dst\":\"::/0\"}],"
                + "\"dns\":{\"nameservers\":[\"10.96.0.10\"],\"domain\":\"cluster.local\",\"search\":[\"default.svc.cluster.local\"]}}",
                POD.toJson("0.3.1"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0.3.0", "0.4.0"})
    void renders0xVersionsLike031(String version) {
        String expected = POD.toJson("0.3.1").replace("\"0.3.1\"", "\"" + version + "\"");
        assertEquals(tree(expected), tree(POD.toJson(version)));
    }

    @Test
    void renders100Like110() {
        assertEquals(tree(POD.toJson("1.1.0").replace("\"1.1.0\"", "\"1.0.0\"")), tree(POD.toJson("1.0.0")));
    }

    @Test
    void emptyResultStillPrintsDnsAsTheReferenceDoes() {
        CniResult empty = new CniResult(List.of(), List.of(), List.of(), null);
        assertEquals(tree("{\"cniVersion\":\"1.0.0\",\"dns\":{}}"), tree(empty.toJson("1.0.0")));
    }

    @Test
    void unsupportedVersionHasNoShape() {
        assertThrows(IllegalArgumentException.class, () -> POD.toJson("0.2.0"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"})
    void roundTripsThroughEveryVersion(String version) {
        assertEquals(POD, CniResult.fromJson(POD.toJson(version)));
    }

    @Test
    void readsTheLegacyIp4Shape() {
        CniResult r = CniResult.fromJson("{\"cniVersion\":\"0.2.0\",\"ip4\":{\"ip\":\"10.1.0.5/16\",\"gateway\":\"10.1.0.1\","
                + "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]},\"dns\":{}}");
        assertEquals(IpPrefix.parse("10.1.0.5/16"), r.ips().getFirst().address());
        assertEquals(IpPrefix.DEFAULT_V4, r.routes().getFirst().dst());
        assertFalse(r.ips().getFirst().interfaceIndex().isPresent());
    }

    @Test
    void unparsableAddressIsCode6NamingTheField() {
        assertCniError(CniError.DECODING_FAILURE, "ips.address",
                () -> CniResult.fromJson("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.1.0.300/24\"}]}"));
    }

    @Test
    void versionReplyListsExactlyTheSupportedVersions() {
        assertEquals("{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}",
                VersionReply.FERRY.toJson(CniVersions.LATEST));
    }

    @Test
    void errorRendersCodeMsgDetailsAndOmitsEmptyDetails() {
        assertEquals(tree("{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"missing network name\"}"),
                tree(new CniError(7, "missing network name", "").toJson("1.0.0")));
        assertEquals(tree("{\"cniVersion\":\"0.4.0\",\"code\":11,\"msg\":\"busy\",\"details\":\"x\"}"),
                tree(new CniError(CniError.TRY_AGAIN_LATER, "busy", "x").toJson("0.4.0")));
    }
}
