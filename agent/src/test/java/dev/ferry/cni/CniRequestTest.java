package dev.ferry.cni;

import static dev.ferry.cni.Cni.assertCniError;
import static dev.ferry.cni.Cni.config;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CniRequestTest {
    private static final String ID = "0123456789abcdef";

    /** The environment a runtime sends for ADD. */
    private static Map<String, String> add() {
        Map<String, String> h = new HashMap<>();
        h.put("CNI-Command", "ADD");
        h.put("CNI-ContainerID", ID);
        h.put("CNI-Netns", "/var/run/netns/pod");
        h.put("CNI-IfName", "eth0");
        h.put("CNI-Args", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=" + ID
                + ";K8S_POD_UID=3e6b2b4c-2f0e-4a39-9d6e-1c0f6c9c1b2a");
        h.put("CNI-Path", "/opt/cni/bin:/usr/libexec/cni");
        return h;
    }

    private static Map<String, String> with(Map<String, String> h, String key, String value) {
        if (value == null) {
            h.remove(key);
        } else {
            h.put(key, value);
        }
        return h;
    }

    @Test
    void addRequestCarriesEnvironmentAndConfig() {
        CniRequest r = CniRequest.fromHeaders(add(), config("1.1.0", ""));
        assertEquals(CniCommand.ADD, r.command());
        assertEquals(ID, r.containerId());
        assertEquals("/var/run/netns/pod", r.netns());
        assertEquals("eth0", r.ifname());
        assertEquals("/opt/cni/bin:/usr/libexec/cni", r.path());
        assertEquals("ferry", r.config().name());
        assertEquals("1.1.0", r.cniVersion());
    }

    @Test
    void kubernetesArgsHaveTypedAccess() {
        CniArgs a = CniRequest.fromHeaders(add(), config("1.0.0", "")).args();
        assertEquals("default", a.podNamespace().orElseThrow());
        assertEquals("web-0", a.podName().orElseThrow());
        assertEquals(ID, a.get("K8S_POD_INFRA_CONTAINER_ID").orElseThrow(), "any key, by name");
        assertEquals("3e6b2b4c-2f0e-4a39-9d6e-1c0f6c9c1b2a", a.podUid().orElseThrow());
        assertEquals("1", a.get("IgnoreUnknown").orElseThrow());
    }

    @Test
    void headerNamesMatchCaseInsensitively() {
        Map<String, String> lower = new HashMap<>();
        add().forEach((k, v) -> lower.put(k.toLowerCase(), v));
        assertEquals(ID, CniRequest.fromHeaders(lower, config("1.0.0", "")).containerId());
    }

    @Test
    void missingCommandIsCode4() {
        assertCniError(CniError.INVALID_ENVIRONMENT_VARIABLES, "CNI_COMMAND",
                () -> CniRequest.fromHeaders(with(add(), "CNI-Command", null), config("1.0.0", "")));
    }

    @Test
    void unknownCommandIsCode4NamingIt() {
        assertCniError(CniError.INVALID_ENVIRONMENT_VARIABLES, "FROB",
                () -> CniRequest.fromHeaders(with(add(), "CNI-Command", "FROB"), config("1.0.0", "")));
    }

    @Test
    void missingRequiredHeadersAreCode4NamingAllOfThem() {
        Map<String, String> h = with(with(add(), "CNI-Netns", null), "CNI-Path", "");
        CniError e = assertCniError(CniError.INVALID_ENVIRONMENT_VARIABLES, "CNI_NETNS",
                () -> CniRequest.fromHeaders(h, config("1.0.0", "")));
        assertEquals("required env variables [CNI_NETNS,CNI_PATH] missing", e.msg());
        assertTrue(e.details().contains("CNI-Netns") && e.details().contains("CNI-Path"), e.details());
    }

    @ParameterizedTest
    @ValueSource(strings = {"CNI-ContainerID", "CNI-IfName", "CNI-Path"})
    void delRequiresContainerIdIfnameAndPath(String header) {
        Map<String, String> h = with(with(add(), "CNI-Command", "DEL"), header, null);
        assertCniError(CniError.INVALID_ENVIRONMENT_VARIABLES, header, () -> CniRequest.fromHeaders(h, config("1.0.0", "")));
    }

    @Test
    void delWithoutNetnsIsAccepted() {
        CniRequest r = CniRequest.fromHeaders(with(with(add(), "CNI-Command", "DEL"), "CNI-Netns", null), config("1.0.0", ""));
        assertEquals("", r.netns());
    }

    @Test
    void statusAndGcNeedOnlyTheCommand() {
        Map<String, String> h = Map.of("CNI-Command", "STATUS");
        assertEquals(CniCommand.STATUS, CniRequest.fromHeaders(h, config("1.1.0", "")).command());
        assertEquals(CniCommand.GC, CniRequest.fromHeaders(Map.of("CNI-Command", "GC"), config("1.1.0", "")).command());
    }

    @Test
    void versionReadsNoConfiguration() {
        CniRequest r = CniRequest.fromHeaders(Map.of("CNI-Command", "VERSION"), Cni.bytes("not json"));
        assertNull(r.config());
        assertEquals(CniVersions.LATEST, r.cniVersion());
    }

    @ParameterizedTest
    @ValueSource(strings = {"-abc", "abc/def", "abc def", "_abc", "ab:c"})
    void invalidContainerIdIsCode4NamingIt(String id) {
        assertCniError(CniError.INVALID_ENVIRONMENT_VARIABLES, id,
                () -> CniRequest.fromHeaders(with(add(), "CNI-ContainerID", id), config("1.0.0", "")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"a.b_c-D9", "X"})
    void containerIdWithAllowedCharactersIsAccepted(String id) {
        assertEquals(id, CniRequest.fromHeaders(with(add(), "CNI-ContainerID", id), config("1.0.0", "")).containerId());
    }

    @ParameterizedTest
    @ValueSource(strings = {"eth0123456789abc", ".", "..", "eth/0", "eth:0", "eth 0", "eth\t0", "ééééééééé"})
    void invalidIfnameIsCode4NamingIt(String ifname) {
        assertCniError(CniError.INVALID_ENVIRONMENT_VARIABLES, "interface name",
                () -> CniRequest.fromHeaders(with(add(), "CNI-IfName", ifname), config("1.0.0", "")));
    }

    @Test
    void ifnameOfFifteenBytesIsAccepted() {
        assertEquals("eth0123456789ab", CniRequest.fromHeaders(with(add(), "CNI-IfName", "eth0123456789ab"), config("1.0.0", "")).ifname());
    }

    @Test
    void tooLongIfnameErrorNamesIt() {
        assertCniError(CniError.INVALID_ENVIRONMENT_VARIABLES, "eth0123456789abc",
                () -> CniRequest.fromHeaders(with(add(), "CNI-IfName", "eth0123456789abc"), config("1.0.0", "")));
    }

    @Test
    void malformedArgsAreCode4NamingThePair() {
        assertCniError(CniError.INVALID_ENVIRONMENT_VARIABLES, "K8S_POD_NAME",
                () -> CniRequest.fromHeaders(with(add(), "CNI-Args", "K8S_POD_NAMESPACE=a;K8S_POD_NAME"), config("1.0.0", "")));
    }

    @Test
    void checkWithA031ConfigIsCode1() {
        CniError e = assertCniError(CniError.INCOMPATIBLE_CNI_VERSION, "CHECK",
                () -> CniRequest.fromHeaders(with(add(), "CNI-Command", "CHECK"), config("0.3.1", "")));
        assertEquals("config version does not allow CHECK", e.msg());
    }

    @Test
    void gcWithA100ConfigIsCode1() {
        assertCniError(CniError.INCOMPATIBLE_CNI_VERSION, "GC",
                () -> CniRequest.fromHeaders(Map.of("CNI-Command", "GC"), config("1.0.0", "")));
    }

    @Test
    void configErrorsSurfaceThroughTheRequest() {
        assertCniError(CniError.DECODING_FAILURE, "failed to decode network configuration",
                () -> CniRequest.fromHeaders(add(), Cni.bytes("{")));
    }
}
