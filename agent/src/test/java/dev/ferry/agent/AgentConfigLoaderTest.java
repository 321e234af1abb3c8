package dev.ferry.agent;

import dev.ferry.agent.AgentConfig.Mode;
import dev.ferry.routes.Peer;
import dev.ferry.datapath.AttachMode;
import dev.ferry.datapath.AttachModes;
import dev.ferry.masquerade.MasqueradeFamilies;
import dev.ferry.net.IpPrefix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AgentConfigLoaderTest {
    private static final String MINIMAL = "podCIDRs: [10.244.1.0/24]\n";

    @TempDir
    Path dir;

    private static AgentConfigLoader loader(Map<String, String> env) {
        return new AgentConfigLoader(env, () -> "Worker-7\n");
    }

    private static AgentConfig parse(String yaml) {
        return loader(Map.of()).parse(yaml);
    }

    private static String error(String yaml) {
        return assertThrows(ConfigException.class, () -> parse(yaml)).getMessage();
    }

    @Test
    void everyKeyOfTheDesignIsRead() {
        AgentConfig c = parse("""
                nodeName: node-a
                mode: standalone
                podCIDRs: [10.244.1.0/24]
                clusterCIDRs: [10.244.0.0/16]
                uplinks: [eth0, eth1.100]
                peers:
                  - {name: node-b, podCIDRs: [10.244.2.0/24], address: 192.168.50.2}
                  - name: node-c
                    podCIDRs: [10.244.3.0/24, 10.244.4.0/24]
                    address: 192.168.50.3
                socket: /run/ferry-a/ferry.sock
                stateDir: /var/lib/ferry-a
                bpffsRoot: /sys/fs/bpf/ferry-a
                cniConfDir: /tmp/cni
                metricsAddress: 127.0.0.1:19962
                attach: tc
                """);

        assertEquals(TestConfigs.of("node-a", Mode.STANDALONE,
                List.of(IpPrefix.parse("10.244.1.0/24")),
                List.of(IpPrefix.parse("10.244.0.0/16")),
                List.of("eth0", "eth1.100"),
                List.of(new Peer("node-b", List.of(IpPrefix.parse("10.244.2.0/24")), IpPrefix.literal("192.168.50.2")),
                        new Peer("node-c", List.of(IpPrefix.parse("10.244.3.0/24"), IpPrefix.parse("10.244.4.0/24")),
                                IpPrefix.literal("192.168.50.3"))),
                Path.of("/run/ferry-a/ferry.sock"),
                Path.of("/var/lib/ferry-a"),
                Path.of("/sys/fs/bpf/ferry-a"),
                Path.of("/tmp/cni"),
                new InetSocketAddress(IpPrefix.literal("127.0.0.1"), 19962),
                AttachMode.TC), c);
    }

    @Test
    void masqueradeIsOnForBothFamiliesUnlessTheFileTurnsItOff() {
        assertEquals(MasqueradeFamilies.ALL, parse(MINIMAL).masquerade());
        assertEquals(MasqueradeFamilies.NONE, parse(MINIMAL + "masquerade: false\n").masquerade());
        assertEquals(MasqueradeFamilies.ALL, parse(MINIMAL + "masquerade: true\n").masquerade());
    }

    @Test
    void masqueradeTakesAFlagPerFamilyAndAFamilyLeftOutIsMasqueraded() {
        assertEquals(new MasqueradeFamilies(true, false), parse(MINIMAL + "masquerade: {ipv6: false}\n").masquerade());
        assertEquals(new MasqueradeFamilies(false, true), parse(MINIMAL + "masquerade: {ipv4: false, ipv6: true}\n").masquerade());
        assertEquals(MasqueradeFamilies.ALL, parse(MINIMAL + "masquerade: {}\n").masquerade());
    }

    @Test
    void aBadMasqueradeValueIsRefusedNamingTheKey() {
        assertEquals("key 'masquerade' must be true or false, not a string (or a mapping per family: {ipv4: true, ipv6: false})",
                error(MINIMAL + "masquerade: \"off\"\n"));
        assertEquals("key 'masquerade.ipv6' must be true or false, not a string", error(MINIMAL + "masquerade: {ipv6: \"no\"}\n"));
        assertEquals("unknown key 'masquerade.inet6' (known keys of masquerade: ipv4, ipv6)",
                error(MINIMAL + "masquerade: {inet6: false}\n"));
    }

    @Test
    void theConflistIsCniVersion100UnlessTheFileNamesAnotherAdvertisedVersion() {
        assertEquals("1.0.0", parse(MINIMAL).cniVersion(), "1.0.0: what containerd 1.6/1.7 and CRI-O <= 1.30 read");
        assertEquals("1.1.0", parse(MINIMAL + "cniVersion: 1.1.0\n").cniVersion());
        assertEquals("0.4.0", parse(MINIMAL + "cniVersion: \"0.4.0\"\n").cniVersion());
    }

    @ParameterizedTest
    @ValueSource(strings = {"0.2.0", "1.2.0", "2.0.0", "latest", "1.0"})
    void aCniVersionFerryCniDoesNotAdvertiseIsRefusedNamingTheKey(String version) {
        assertEquals("key 'cniVersion' must be one of 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0 (the versions ferry-cni supports), not '"
                + version + "'", error(MINIMAL + "cniVersion: \"" + version + "\"\n"));
    }

    @Test
    void logLevelSetsFerrysPackagesAndLogLevelsAnyLoggerByName() {
        AgentConfig c = parse(MINIMAL + "logLevel: WARN\nlogLevels:\n  dev.ferry.cni: debug\n  io.fabric8: error\n");

        assertEquals(Map.of("dev.ferry", "warn", "dev.ferry.cni", "debug", "io.fabric8", "error"), c.logLevels().levels());
        assertEquals(Map.of("dev.ferry", "info"), parse(MINIMAL).logLevels().levels(), "info by default");
    }

    @Test
    void logLevelsTakeEffectOnTheRunningLogger() {
        org.slf4j.Logger probe = org.slf4j.LoggerFactory.getLogger("dev.ferry.configtest.Probe");
        try {
            parse(MINIMAL + "logLevels: {dev.ferry.configtest: debug}\n").logLevels().apply();
            assertTrue(probe.isDebugEnabled());
            parse(MINIMAL + "logLevels: {dev.ferry.configtest: error}\n").logLevels().apply();
            assertFalse(probe.isWarnEnabled());
        } finally {
            ((ch.qos.logback.classic.Logger) probe).setLevel(null);
            ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("dev.ferry.configtest")).setLevel(null);
        }
    }

    @Test
    void omittedKeysTakeTheDesignsDefaults() {
        AgentConfig c = parse(MINIMAL);

        assertEquals(Mode.STANDALONE, c.mode());
        assertEquals(List.of(), c.uplinks(), "empty: the device of the default route, found at start");
        assertEquals(List.of(), c.peers());
        assertEquals(Path.of("/run/ferry/ferry.sock"), c.socket());
        assertEquals(Path.of("/var/lib/ferry"), c.stateDir());
        assertEquals(Path.of("/var/lib/ferry/cni-spool"), c.spoolDir(), "ferry-cni's default spoolDir");
        assertEquals(Path.of("/sys/fs/bpf/ferry"), c.bpffsRoot());
        assertEquals(Path.of("/etc/cni/net.d"), c.cniConfDir());
        assertEquals(new InetSocketAddress(IpPrefix.literal("0.0.0.0"), 9962), c.metricsAddress());
        assertEquals(new AttachModes(AttachMode.TCX, AttachMode.TC), c.attach(), "TCX on the uplinks, tc on pod veths");
        assertTrue(c.metricsPerPod(), "per-pod series by default");
    }

    @Test
    void mirrorsNameTheirPodsDeviceAndFilter() {
        var mirrors = parse(MINIMAL + "mirrors:\n  - {name: ids, pods: [10.244.1.0/28], device: ids0, proto: tcp, port: 443, direction: out}\n").mirrors();

        assertEquals(1, mirrors.size());
        assertEquals("ids", mirrors.getFirst().name());
        assertEquals(new dev.ferry.selection.PodSelection.SourceCidrs(List.of(dev.ferry.net.IpPrefix.parse("10.244.1.0/28"))), mirrors.getFirst().pods());
        assertEquals("ids0", mirrors.getFirst().device());
        assertEquals(new dev.ferry.capture.CaptureRequest.Filter(dev.ferry.datapath.MirrorSlot.OUT, 6, java.util.Optional.empty(), 443),
                mirrors.getFirst().filter());
        assertEquals(List.of(), parse(MINIMAL).mirrors(), "none unless configured");
    }

    @Test
    void aMirrorsBadFilterIsRefusedNamingItsKey() {
        assertEquals("key 'mirrors[0].proto': proto must be tcp, udp, icmp or icmpv6, not 'sctp'",
                error(MINIMAL + "mirrors: [{name: m, pods: [10.244.1.0/24], device: ids0, proto: sctp}]\n"));
        assertEquals("key 'mirrors[0].device' is required (the device copies go to)",
                error(MINIMAL + "mirrors: [{name: m, pods: [10.244.1.0/24]}]\n"));
    }

    @Test
    void metricsPerPodCanBeTurnedOff() {
        assertFalse(parse(MINIMAL + "metricsPerPod: false\n").metricsPerPod());
        assertTrue(error(MINIMAL + "metricsPerPod: sometimes\n").startsWith("key 'metricsPerPod'"));
    }

    @Test
    void metricsAddressTakesItsHostFromTheEnvironmentWhenWrittenAsAVariable() {
        String yaml = MINIMAL + "metricsAddress: '${HOST_IP}:9962'\n";

        assertEquals(new InetSocketAddress(IpPrefix.literal("192.168.50.7"), 9962),
                loader(Map.of("HOST_IP", "192.168.50.7")).parse(yaml).metricsAddress());
        assertEquals(new InetSocketAddress(IpPrefix.literal("fd00::7"), 9962),
                loader(Map.of("HOST_IP", "fd00::7")).parse(yaml).metricsAddress(), "an IPv6 node address");
        assertEquals("key 'metricsAddress': '${HOST_IP}:9962' names the environment variable HOST_IP, which is not set",
                assertThrows(ConfigException.class, () -> loader(Map.of()).parse(yaml)).getMessage());
        assertTrue(assertThrows(ConfigException.class, () -> loader(Map.of("HOST_IP", "node-a")).parse(yaml)).getMessage()
                .startsWith("key 'metricsAddress': 'node-a:9962' is not an IP address and port"));
    }

    @Test
    void podAttachHooksPodVethsApartFromTheUplinks() {
        assertEquals(new AttachModes(AttachMode.TCX, AttachMode.TCX), parse(MINIMAL + "podAttach: tcx\n").attach());
        assertEquals(new AttachModes(AttachMode.TC, AttachMode.TC), parse(MINIMAL + "attach: tc\n").attach());
    }

    @Test
    void clusterCidrsDefaultToTheNodesAndItsPeersPodCidrs() {
        AgentConfig c = parse(MINIMAL + "peers: [{name: b, podCIDRs: [10.244.2.0/24], address: 10.0.0.2}]\n");

        assertEquals(List.of(IpPrefix.parse("10.244.1.0/24"), IpPrefix.parse("10.244.2.0/24")), c.clusterCidrs());
    }

    @Test
    void podCidrsTakeAnIpv4AndAnIpv6CidrInEitherOrderForADualStackNode() {
        assertEquals(List.of(IpPrefix.parse("10.244.1.0/24"), IpPrefix.parse("fd00:f17::/64")),
                parse("podCIDRs: [10.244.1.0/24, 'fd00:f17::/64']\n").podCidrs());
        assertEquals(List.of(IpPrefix.parse("fd00:f17::/120"), IpPrefix.parse("10.244.1.0/24")),
                parse("podCIDRs: ['fd00:f17::/120', 10.244.1.0/24]\n").podCidrs());
    }

    @Test
    void aDualStackPeersCidrsAreRoutedViaItsAddressOfEachFamily() {
        AgentConfig c = parse("podCIDRs: [10.244.1.0/24, 'fd00:f17:1::/64']\n"
                + "peers: [{name: b, podCIDRs: [10.244.2.0/24, 'fd00:f17:2::/64'], address: 10.0.0.2, address6: 'fd00:f17::2'}]\n");

        Peer b = c.peers().getFirst();
        assertEquals(IpPrefix.literal("10.0.0.2"), b.via(IpPrefix.parse("10.244.2.0/24")));
        assertEquals(IpPrefix.literal("fd00:f17::2"), b.via(IpPrefix.parse("fd00:f17:2::/64")));
    }

    @Test
    void anIpv6PoolOfASlash124OrASlash64IsTakenTheBoundsThemselves() {
        assertEquals(List.of(IpPrefix.parse("fd00:f17::/124")), parse("podCIDRs: ['fd00:f17::/124']\n").podCidrs());
        assertEquals(List.of(IpPrefix.parse("fd00:f17::/64")), parse("podCIDRs: ['fd00:f17::/64']\n").podCidrs());
    }

    @Test
    void podCidrsTakeOneIpv6CidrForAnIpv6OnlyNode() {
        assertEquals(List.of(IpPrefix.parse("fd00:f17::/64")), parse("podCIDRs: ['fd00:f17::/64']\n").podCidrs());
    }

    @Test
    void nodeNameComesFromNodeNameVariableThenTheLowercasedHostName() {
        assertEquals("from-env", loader(Map.of("NODE_NAME", "from-env")).parse(MINIMAL).nodeName());
        assertEquals("worker-7", loader(Map.of()).parse(MINIMAL).nodeName());
        assertEquals("set", loader(Map.of("NODE_NAME", "from-env")).parse("nodeName: set\n" + MINIMAL).nodeName());
    }

    @Test
    void kubernetesModeReadsItsKubeconfigAndGracePeriodAndNeedsNoPodCidrs() {
        AgentConfig c = loader(Map.of()).parse("mode: kubernetes\nkubeconfig: /etc/ferry/kubeconfig\nendpointGcGracePeriod: 1500ms\n");

        assertEquals(Mode.KUBERNETES, c.mode());
        assertEquals(new AgentConfig.Kubernetes(Path.of("/etc/ferry/kubeconfig"), Duration.ofMillis(1500)), c.kubernetes());
        assertEquals(List.of(), c.clusterCidrs(), "filled from the Nodes unless set");
    }

    @Test
    void kubernetesModeRefusesStandaloneKeys() {
        assertTrue(error("mode: kubernetes\n" + MINIMAL).startsWith("key 'podCIDRs' is for standalone mode"));
    }

    @Test
    void aKubeconfigMakesTheDefaultModeKubernetesAndTheErrorSaysHowToChooseStandalone() throws IOException {
        Files.createDirectories(dir.resolve(".kube"));
        Files.writeString(dir.resolve(".kube/config"), "apiVersion: v1\n");

        String message = assertThrows(ConfigException.class,
                () -> loader(Map.of("HOME", dir.toString())).parse(MINIMAL)).getMessage();

        assertTrue(message.contains(dir.resolve(".kube/config") + " exists"), message);
        assertTrue(message.contains("set mode: standalone"), message);
        assertEquals(Mode.STANDALONE, loader(Map.of("HOME", dir.toString())).parse("mode: standalone\n" + MINIMAL).mode());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            unknown key               | podCIDRs: [10.244.1.0/24]\\nuplink: [eth0]                  | unknown key 'uplink' (known keys: attach, bpffsRoot,
            unknown peer key          | podCIDRs: [10.244.1.0/24]\\npeers: [{name: b, podCIDRs: [10.1.0.0/24], adress: 10.0.0.2}] | unknown key 'peers[0].adress' (known keys of peers[0]: address, address6, name, podCIDRs)
            string wanted             | podCIDRs: [10.244.1.0/24]\\nsocket: 5                       | key 'socket' must be a string, not a number (quote it: "5")
            list wanted               | podCIDRs: 10.244.1.0/24                                     | key 'podCIDRs' must be a list
            mapping wanted            | podCIDRs: [10.244.1.0/24]\\npeers: [node-b]                 | key 'peers[0]' must be a mapping of keys to values, not a string
            file not a mapping        | - a                                                         | the file must be a mapping of keys to values, not a list
            bad CIDR                  | podCIDRs: [10.244.1.0/33]                                   | key 'podCIDRs[0]': '10.244.1.0/33' is not a CIDR (prefix length 33 is out of range for 10.244.1.0)
            address is not a CIDR     | podCIDRs: [10.244.1.0]                                      | key 'podCIDRs[0]': '10.244.1.0' is not a CIDR (no prefix length)
            host bits                 | podCIDRs: [10.244.1.7/24]                                   | key 'podCIDRs[0]': '10.244.1.7/24' has host bits set; did you mean 10.244.1.0/24?
            bad cluster CIDR          | podCIDRs: [10.244.1.0/24]\\nclusterCIDRs: [ten/8]           | key 'clusterCIDRs[0]': 'ten/8' is not a CIDR (not an IP address: 'ten')
            two IPv4 pod CIDRs        | podCIDRs: [10.244.1.0/24, 10.244.9.0/24]                    | key 'podCIDRs': 10.244.1.0/24 and 10.244.9.0/24 are both IPv4; a node has one pod CIDR per family
            two IPv6 pod CIDRs        | podCIDRs: ['fd00:1::/64', 'fd00:2::/64']                    | key 'podCIDRs': fd00:1::/64 and fd00:2::/64 are both IPv6; a node has one pod CIDR per family
            three pod CIDRs           | podCIDRs: [10.244.1.0/24, 'fd00:1::/64', 10.244.9.0/24]     | key 'podCIDRs' must hold one CIDR, or two of different families (dual stack), not 3
            IPv6 pod CIDR too small   | podCIDRs: [10.244.1.0/24, 'fd00:1::/127']                   | key 'podCIDRs[1]': fd00:1::/127 is a /127; an IPv6 pod CIDR must be a /64 to a /124
            IPv6 pod CIDR a /128      | podCIDRs: ['fd00:1::5/128']                                 | key 'podCIDRs[0]': fd00:1::5/128 is a /128; an IPv6 pod CIDR must be a /64 to a /124
            IPv6 pod CIDR too large   | podCIDRs: ['fd00:1::/56']                                   | key 'podCIDRs[0]': fd00:1::/56 is a /56; an IPv6 pod CIDR must be a /64 to a /124
            IPv6 pod CIDR a /125      | podCIDRs: [10.244.1.0/24, 'fd00:1::/125']                   | key 'podCIDRs[1]': fd00:1::/125 is a /125; an IPv6 pod CIDR must be a /64 to a /124
            IPv6 pod CIDR a /63       | podCIDRs: ['fd00:1::/63']                                   | key 'podCIDRs[0]': fd00:1::/63 is a /63; an IPv6 pod CIDR must be a /64 to a /124
            cluster CIDR family       | podCIDRs: [10.244.1.0/24]\\nclusterCIDRs: [10.244.0.0/16, 'fd00::/48'] | key 'clusterCIDRs[1]': fd00::/48 is IPv6 but podCIDRs has no IPv6 CIDR
            no pod CIDR               | nodeName: a                                                 | key 'podCIDRs' is required in standalone mode
            peer overlaps node        | podCIDRs: [10.244.1.0/24]\\npeers: [{name: b, podCIDRs: [10.244.0.0/16], address: 10.0.0.2}] | key 'peers[0].podCIDRs[0]': 10.244.0.0/16 overlaps this node's pod CIDR 10.244.1.0/24
            peers overlap             | podCIDRs: [10.244.1.0/24]\\npeers: [{name: b, podCIDRs: [10.244.2.0/24], address: 10.0.0.2}, {name: c, podCIDRs: [10.244.2.128/25], address: 10.0.0.3}] | key 'peers[1].podCIDRs[0]': 10.244.2.128/25 overlaps 10.244.2.0/24 of peer 'b'
            peer named twice          | podCIDRs: [10.244.1.0/24]\\npeers: [{name: b, podCIDRs: [10.244.2.0/24], address: 10.0.0.2}, {name: b, podCIDRs: [10.244.3.0/24], address: 10.0.0.3}] | key 'peers[1].name': peer 'b' is listed twice
            peer is this node         | nodeName: a\\npodCIDRs: [10.244.1.0/24]\\npeers: [{name: a, podCIDRs: [10.244.2.0/24], address: 10.0.0.2}] | key 'peers[0].name': 'a' is this node's own name
            peer without address      | podCIDRs: [10.244.1.0/24]\\npeers: [{name: b, podCIDRs: [10.244.2.0/24]}] | key 'peers[0].address' is required
            peer address is a name    | podCIDRs: [10.244.1.0/24]\\npeers: [{name: b, podCIDRs: [10.244.2.0/24], address: node-b}] | key 'peers[0].address': 'node-b' is not an IP address
            peer families differ      | podCIDRs: [10.244.1.0/24]\\npeers: [{name: b, podCIDRs: ['fd00:2::/64'], address: 10.0.0.2}] | key 'peers[0].podCIDRs[0]': fd00:2::/64 and the peer's address 10.0.0.2 are of different IP families
            peer address6 is IPv4     | podCIDRs: [10.244.1.0/24]\\npeers: [{name: b, podCIDRs: [10.244.2.0/24], address: 10.0.0.2, address6: 10.0.0.3}] | key 'peers[0].address6': '10.0.0.3' is not an IPv6 address
            peer address6 beside IPv6 | podCIDRs: ['fd00:1::/64']\\npeers: [{name: b, podCIDRs: ['fd00:2::/64'], address: 'fd00::2', address6: 'fd00::3'}] | key 'peers[0].address6': the peer's address is IPv6 already
            relative path             | podCIDRs: [10.244.1.0/24]\\nstateDir: var/lib/ferry         | key 'stateDir': 'var/lib/ferry' must be an absolute path
            socket path too long      | podCIDRs: [10.244.1.0/24]\\nsocket: /run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock | key 'socket': '/run/aaaa
            bad uplink name           | podCIDRs: [10.244.1.0/24]\\nuplinks: [a-very-long-uplink-name] | key 'uplinks[0]': 'a-very-long-uplink-name' is not an interface name
            bad mode                  | mode: solo\\npodCIDRs: [10.244.1.0/24]                      | key 'mode' must be standalone or kubernetes, not 'solo'
            bad attach                | podCIDRs: [10.244.1.0/24]\\nattach: xdp                     | key 'attach' must be tcx or tc, not 'xdp'
            bad podAttach             | podCIDRs: [10.244.1.0/24]\\npodAttach: tcz                  | key 'podAttach' must be tcx or tc, not 'tcz'
            metrics without port      | podCIDRs: [10.244.1.0/24]\\nmetricsAddress: 0.0.0.0        | key 'metricsAddress': '0.0.0.0' is not an IP address and port
            metrics host name         | podCIDRs: [10.244.1.0/24]\\nmetricsAddress: localhost:9962 | key 'metricsAddress': 'localhost:9962' is not an IP address and port
            metrics port range        | podCIDRs: [10.244.1.0/24]\\nmetricsAddress: 0.0.0.0:70000  | key 'metricsAddress': '0.0.0.0:70000' is not an IP address and port
            bad node name             | nodeName: Node_A\\npodCIDRs: [10.244.1.0/24]                | key 'nodeName': 'Node_A' is not a valid node name
            bad log level             | podCIDRs: [10.244.1.0/24]\\nlogLevel: verbose                 | key 'logLevel' must be one of trace, debug, info, warn, error, off, not
            bad package log level     | podCIDRs: [10.244.1.0/24]\\nlogLevels: {dev.ferry.cni: loud}  | key 'logLevels.dev.ferry.cni' must be one of trace, debug, info, warn, error, off, not
            log levels not a mapping  | podCIDRs: [10.244.1.0/24]\\nlogLevels: [debug]               | key 'logLevels' must be a mapping (name: value lines), not a list
            not a logger name         | podCIDRs: [10.244.1.0/24]\\nlogLevels: {dev-ferry: debug}     | key 'logLevels': 'dev-ferry' is not a logger name
            duplicate key             | podCIDRs: [10.244.1.0/24]\\npodCIDRs: [10.244.2.0/24]       | not valid YAML: Duplicate field 'podCIDRs'
            """)
    void aMistakeIsOneMessageNamingTheKey(String what, String yaml, String expected) {
        String message = error(yaml.replace("\\n", "\n"));

        assertTrue(message.startsWith(expected), what + ": " + message);
    }

    @Test
    void ipv6MetricsAddressNeedsBrackets() {
        assertEquals(new InetSocketAddress(IpPrefix.literal("::"), 9962),
                parse(MINIMAL + "metricsAddress: '[::]:9962'\n").metricsAddress());
        assertTrue(error(MINIMAL + "metricsAddress: ':::9962'\n").startsWith("key 'metricsAddress'"));
    }

    @Test
    void emptyValueCountsAsAbsent() {
        assertEquals(List.of(), parse(MINIMAL + "uplinks:\n").uplinks());
    }

    @Test
    void errorsFromAFileNameTheFile() throws IOException {
        Path file = dir.resolve("agent.yaml");
        Files.writeString(file, "podCIDRs: [10.244.1.0/24]\nattach: xdp\n");

        String message = assertThrows(ConfigException.class, () -> loader(Map.of()).read(file)).getMessage();

        assertEquals("config file '" + file + "': key 'attach' must be tcx or tc, not 'xdp'", message);
    }

    @Test
    void missingFileIsNamed() {
        Path file = dir.resolve("nope.yaml");

        String message = assertThrows(ConfigException.class, () -> loader(Map.of()).read(file)).getMessage();

        assertEquals("config file '" + file + "' does not exist", message);
    }

    @Test
    void yamlSyntaxErrorsGiveTheLine() {
        String message = error("podCIDRs: [10.244.1.0/24\nstateDir: /x\n");

        assertTrue(message.startsWith("not valid YAML: ") && message.contains("(line "), message);
        assertEquals(1, message.lines().count(), "one line, as the agent prints config errors: " + message);
    }
}
