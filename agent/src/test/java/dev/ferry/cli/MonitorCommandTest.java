package dev.ferry.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** How {@code ferry monitor} prints the agent's event lines as text. */
class MonitorCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static String text(String json) throws Exception {
        return MonitorCommand.text(JSON.readTree(json));
    }

    @Test
    void ipv4EventWithPortsAndBothPodsReadsAsOneLine() throws Exception {
        assertEquals("2026-12-05T14:52:10.120318Z redirect_peer forwarded egress tcp 10.244.1.2:40000 -> 10.244.1.3:8080"
                        + " from shop/cart-0 to shop/cart-1 len 74 if 12",
                text("{\"type\":\"event\",\"time\":\"2026-12-05T14:52:10.120318Z\",\"direction\":\"egress\","
                        + "\"verdict\":\"redirect_peer\",\"reason\":\"forwarded\",\"protocol\":\"tcp\",\"source\":\"10.244.1.2\","
                        + "\"destination\":\"10.244.1.3\",\"sourcePort\":40000,\"destinationPort\":8080,\"ifindex\":12,"
                        + "\"length\":74,\"sourcePod\":\"shop/cart-0\",\"destinationPod\":\"shop/cart-1\"}"));
    }

    @Test
    void ipv6AddressesAreBracketedBeforeTheirPorts() throws Exception {
        assertEquals("t drop spoofed_source egress udp [2001:db8::9]:1 -> [2001:db8::2]:2 from shop/cart-0 len 62 if 5",
                text("{\"time\":\"t\",\"direction\":\"egress\",\"verdict\":\"drop\",\"reason\":\"spoofed_source\","
                        + "\"protocol\":\"udp\",\"source\":\"2001:db8::9\",\"destination\":\"2001:db8::2\",\"sourcePort\":1,"
                        + "\"destinationPort\":2,\"ifindex\":5,\"length\":62,\"sourcePod\":\"shop/cart-0\"}"));
    }

    @Test
    void portlessAndNonIpEventsShowWhatTheyHave() throws Exception {
        assertEquals("t pass ttl_expired ingress icmp 10.77.2.5 -> 10.244.1.3 len 98 if 2",
                text("{\"time\":\"t\",\"direction\":\"ingress\",\"verdict\":\"pass\",\"reason\":\"ttl_expired\","
                        + "\"protocol\":\"icmp\",\"source\":\"10.77.2.5\",\"destination\":\"10.244.1.3\",\"ifindex\":2,\"length\":98}"));
        assertEquals("t pass truncated egress none - -> - len 20 if 7",
                text("{\"time\":\"t\",\"direction\":\"egress\",\"verdict\":\"pass\",\"reason\":\"truncated\",\"protocol\":\"none\","
                        + "\"ifindex\":7,\"length\":20}"));
    }
}
