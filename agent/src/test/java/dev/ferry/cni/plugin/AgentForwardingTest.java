package dev.ferry.cni.plugin;

import dev.ferry.testing.FerryCni;

import dev.ferry.cni.plugin.FakeAgent.Reply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import static dev.ferry.testing.FerryCni.quote;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ferry-cni talking to an agent: the request it sends, and what it makes of each kind of answer. */
class AgentForwardingTest {
    private static final String ADD_RESULT = """
            {"cniVersion":"1.1.0","interfaces":[{"name":"eth0","sandbox":"/var/run/netns/cni-1234"}],\
            "ips":[{"address":"10.244.1.7/32","interface":0}]}""";

    @TempDir
    Path dir;

    private Path socket() {
        return dir.resolve("agent.sock");
    }

    private String config() {
        return "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"agentSocket\":" + quote(socket()) + "}";
    }

    @Test
    void addForwardsTheEnvironmentAsHeadersAndTheConfigurationByteForByte() throws Exception {
        // Whitespace, escapes, non-ASCII and nesting: the body must reach the agent untouched.
        String config = "{\n  \"cniVersion\": \"1.1.0\",\n  \"name\": \"ferry\",\t\"type\": \"ferry-cni\",\n"
                + "  \"agentSocket\": " + quote(socket()) + ",\n"
                + "  \"args\": {\"note\": \"caf\\u00e9 \u2615 \\\"quoted\\\"\", \"list\": [1, 2.5e3, null, true]}\n}\n";
        byte[] body = config.getBytes(StandardCharsets.UTF_8);
        try (FakeAgent agent = FakeAgent.listen(socket(), Reply.http(200, "OK", ADD_RESULT))) {
            FerryCni.Result r = FerryCni.attachment("ADD").stdin(body).run();

            String expectedHeader = "POST /v1/cni HTTP/1.1\r\n"
                    + "Host: ferry\r\n"
                    + "CNI-Command: ADD\r\n"
                    + "CNI-ContainerID: 3f6940ab5ab43bc522569d15b23f8c1b\r\n"
                    + "CNI-Netns: /var/run/netns/cni-1234\r\n"
                    + "CNI-IfName: eth0\r\n"
                    + "CNI-Args: K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0\r\n"
                    + "CNI-Path: /opt/cni/bin\r\n"
                    + "Content-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\n"
                    + "Connection: close\r\n"
                    + "\r\n";
            byte[] expected = concat(expectedHeader.getBytes(StandardCharsets.US_ASCII), body);
            assertArrayEquals(expected, agent.awaitRequest(), "the request on the wire");
            assertEquals(0, r.exitCode(), r::toString);
            assertEquals(ADD_RESULT, r.stdout(), "the agent's result, printed as it came");
        }
    }

    @Test
    void agentsCniErrorIsPrintedAsItCameWithExit1() throws Exception {
        String error = "{\"cniVersion\":\"1.1.0\",\"code\":7,\"msg\":\"invalid network configuration\","
                + "\"details\":\"podCIDR 10.244.1.0/31 is too small\"}";
        try (FakeAgent agent = FakeAgent.listen(socket(), Reply.http(400, "Bad Request", error))) {
            FerryCni.Result r = FerryCni.attachment("ADD").stdin(config()).run();

            assertEquals(1, r.exitCode(), r::toString);
            assertEquals(error, r.stdout());
        }
    }

    @Test
    void delWithoutNetnsIsForwardedWithoutThatHeaderAndSucceedsSilently() throws Exception {
        try (FakeAgent agent = FakeAgent.listen(socket(), Reply.raw("HTTP/1.1 204 No Content\r\n\r\n"))) {
            FerryCni.Result r = FerryCni.attachment("DEL").without("CNI_NETNS").stdin(config()).run();

            String request = new String(agent.awaitRequest(), StandardCharsets.UTF_8);
            assertAll(
                    () -> assertEquals(0, r.exitCode(), r::toString),
                    () -> assertEquals("", r.stdout()),
                    () -> assertTrue(request.contains("\r\nCNI-Command: DEL\r\n"), request),
                    () -> assertTrue(!request.contains("CNI-Netns"), request));
        }
    }

    @Test
    void statusNeedsOnlyTheCommandAndIsForwarded() throws Exception {
        try (FakeAgent agent = FakeAgent.listen(socket(), Reply.http(200, "OK", ""))) {
            FerryCni.Result r = FerryCni.command("STATUS").stdin(config()).run();

            String request = new String(agent.awaitRequest(), StandardCharsets.UTF_8);
            assertEquals(0, r.exitCode(), r::toString);
            assertTrue(request.startsWith("POST /v1/cni HTTP/1.1\r\nHost: ferry\r\nCNI-Command: STATUS\r\n"
                    + "Content-Type: application/json\r\n"), request);
        }
    }

    @Test
    void agentSocketFromTheConfigurationIsWhereTheRequestGoes() throws Exception {
        Path other = dir.resolve("other.sock");
        try (FakeAgent configured = FakeAgent.listen(socket(), Reply.http(200, "OK", ADD_RESULT));
             FakeAgent bystander = FakeAgent.listen(other, Reply.http(500, "Wrong Socket", "{}"))) {
            FerryCni.Result r = FerryCni.attachment("ADD").stdin(config()).run();

            assertEquals(0, r.exitCode(), r::toString);
            configured.awaitRequest();
            assertTrue(bystander.receivedNothing());
        }
    }

    @Test
    void responseWithoutAValidStatusLineIsError999() throws Exception {
        try (FakeAgent agent = FakeAgent.listen(socket(), Reply.raw("hello there\r\n\r\n" + ADD_RESULT))) {
            FerryCni.Result r = FerryCni.attachment("ADD").stdin(config()).run();

            assertEquals(1, r.exitCode(), r::toString);
            assertEquals(999, r.code());
            assertEquals("invalid response from the ferry agent", r.msg());
            assertTrue(r.details().contains("hello there"), r::toString);
        }
    }

    @Test
    void anAgentThatGoesAwayWithoutAnsweringIsTryAgainLater() throws Exception {
        try (FakeAgent agent = FakeAgent.listen(socket(), Reply.hangUp())) {
            FerryCni.Result r = FerryCni.attachment("ADD").stdin(config()).run();

            assertEquals(11, r.code(), r::toString);
            assertEquals("ferry agent went away before answering", r.msg());
            assertEquals("the agent closed the connection without answering", r.details());
        }
    }

    @Test
    void anAgentThatGoesAwayInTheMiddleOfItsAnswerIsTryAgainLater() throws Exception {
        String cut = "HTTP/1.1 200 OK\r\nContent-Length: 400\r\nConnection: close\r\n\r\n{\"cniVersion\":";
        try (FakeAgent agent = FakeAgent.listen(socket(), Reply.raw(cut))) {
            FerryCni.Result r = FerryCni.attachment("DEL").stdin(config()).run();

            assertEquals(11, r.code(), r::toString);
            assertTrue(r.details().contains("after 14 of the body's 400 bytes"), r::toString);
        }
    }

    @Test
    void nonCniErrorAnswerIsError999NamingTheStatus() throws Exception {
        try (FakeAgent agent = FakeAgent.listen(socket(), Reply.http(500, "Internal Server Error", "oops"))) {
            FerryCni.Result r = FerryCni.attachment("ADD").stdin(config()).run();

            assertEquals(999, r.code(), r::toString);
            assertTrue(r.details().contains("HTTP 500 Internal Server Error"), r::toString);
        }
    }

    @Test
    void chunkedResponseIsRefusedClearly() throws Exception {
        String chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        try (FakeAgent agent = FakeAgent.listen(socket(), Reply.raw(chunked))) {
            FerryCni.Result r = FerryCni.attachment("ADD").stdin(config()).run();

            assertEquals(999, r.code(), r::toString);
            assertTrue(r.details().contains("Transfer-Encoding 'chunked'"), r::toString);
        }
    }

    @Test
    void closeDelimitedBodyIsTheResult() throws Exception {
        try (FakeAgent agent = FakeAgent.listen(socket(), Reply.raw("HTTP/1.0 200 OK\r\n\r\n" + ADD_RESULT))) {
            FerryCni.Result r = FerryCni.attachment("ADD").stdin(config()).run();

            assertEquals(0, r.exitCode(), r::toString);
            assertEquals(ADD_RESULT, r.stdout());
        }
    }

    @Test
    void contentLengthEndsTheResponseEvenIfTheAgentKeepsTheConnectionOpen() throws Exception {
        String response = "HTTP/1.1 200 OK\r\nContent-Length: " + ADD_RESULT.length() + "\r\n\r\n" + ADD_RESULT;
        try (FakeAgent agent = FakeAgent.listen(socket(), Reply.rawKeepingConnectionOpen(response))) {
            FerryCni.Result r = FerryCni.attachment("ADD").env("FERRY_CNI_TIMEOUT_SECONDS", "20")
                    .stdin(config()).run();

            assertEquals(0, r.exitCode(), r::toString);
            assertEquals(ADD_RESULT, r.stdout());
            assertTrue(r.elapsed().compareTo(Duration.ofSeconds(10)) < 0, "took " + r.elapsed());
        }
    }

    @Test
    void agentThatNeverAnswersIsError11WithinTheConfiguredTimeout() throws Exception {
        try (FakeAgent agent = FakeAgent.listen(socket(), Reply.silence())) {
            FerryCni.Result r = FerryCni.attachment("ADD").env("FERRY_CNI_TIMEOUT_SECONDS", "1")
                    .stdin(config()).run();

            agent.awaitRequest();
            assertAll(
                    () -> assertEquals(1, r.exitCode(), r::toString),
                    () -> assertEquals(11, r.code()),
                    () -> assertEquals("ferry agent did not answer in time", r.msg()),
                    () -> assertTrue(r.elapsed().compareTo(Duration.ofMillis(900)) > 0, "took " + r.elapsed()),
                    () -> assertTrue(r.elapsed().compareTo(Duration.ofSeconds(5)) < 0, "took " + r.elapsed()));
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] all = new byte[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
