package dev.ferry.cni.plugin;

import dev.ferry.testing.FerryCni;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What ferry-cni answers on its own, without the agent: VERSION, and every
 * invocation it refuses before forwarding (environment, configuration, stdin).
 */
class PluginInvocationTest {
    private static final String SUPPORTED = "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]";
    /** An agent socket that never exists, so that nothing refused here could reach an agent anyway. */
    private static final String CONFIG = """
            {"cniVersion":"1.0.0","name":"ferry","type":"ferry-cni","agentSocket":"/nonexistent/ferry.sock"}""";

    @Test
    void versionEchoesTheRequestedVersionAndListsTheSupportedOnes() {
        FerryCni.Result r = FerryCni.command("VERSION").stdin("{\"cniVersion\":\"1.0.0\"}").run();

        assertEquals(0, r.exitCode(), r::toString);
        assertEquals("{\"cniVersion\":\"1.0.0\",\"supportedVersions\":" + SUPPORTED + "}\n", r.stdout());
    }

    @Test
    void versionWithoutAConfigurationAnswersForTheLatestVersion() {
        FerryCni.Result r = FerryCni.command("VERSION").run();

        assertEquals(0, r.exitCode(), r::toString);
        assertEquals("{\"cniVersion\":\"1.1.0\",\"supportedVersions\":" + SUPPORTED + "}\n", r.stdout());
    }

    @ParameterizedTest(name = "{0} without {1}")
    @CsvSource({
            "ADD, CNI_CONTAINERID", "ADD, CNI_NETNS", "ADD, CNI_IFNAME", "ADD, CNI_PATH",
            "CHECK, CNI_CONTAINERID", "CHECK, CNI_NETNS", "CHECK, CNI_IFNAME", "CHECK, CNI_PATH",
            "DEL, CNI_CONTAINERID", "DEL, CNI_IFNAME", "DEL, CNI_PATH",
            "GC, CNI_PATH",
    })
    void missingRequiredVariableIsError4NamingIt(String command, String variable) {
        FerryCni.Result r = FerryCni.attachment(command).without(variable).stdin(CONFIG).run();

        assertAll(
                () -> assertEquals(1, r.exitCode(), r::toString),
                () -> assertEquals(4, r.code()),
                () -> assertEquals("required env variables [" + variable + "] missing", r.msg()),
                () -> assertEquals("1.0.0", r.cniVersion(), "errors carry the configuration's cniVersion"));
    }

    @Test
    void emptyVariableCountsAsMissing() {
        FerryCni.Result r = FerryCni.attachment("ADD").env("CNI_NETNS", "").stdin(CONFIG).run();

        assertEquals(4, r.code(), r::toString);
        assertEquals("required env variables [CNI_NETNS] missing", r.msg());
    }

    @Test
    void everyMissingVariableIsNamedAtOnce() {
        FerryCni.Result r = FerryCni.command("ADD").stdin(CONFIG).run();

        assertEquals(4, r.code(), r::toString);
        assertEquals("required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing", r.msg());
    }

    @Test
    void missingCommandIsError4() {
        FerryCni.Result r = FerryCni.attachment("ADD").without("CNI_COMMAND").stdin(CONFIG).run();

        assertEquals(1, r.exitCode(), r::toString);
        assertEquals(4, r.code());
        assertEquals("required env variables [CNI_COMMAND] missing", r.msg());
    }

    @Test
    void unknownCommandIsError4() {
        FerryCni.Result r = FerryCni.attachment("REPAIR").stdin(CONFIG).run();

        assertEquals(1, r.exitCode(), r::toString);
        assertEquals(4, r.code());
        assertEquals("unknown CNI_COMMAND: REPAIR", r.msg());
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "", "   ", "[1, 2]", "\"ferry\"", "{\"cniVersion\":\"1.0.0\"", "{\"cniVersion\":1.0.0}",
            "{\"cniVersion\":\"1.0.0\"} {}", "{\"ipam\":{\"type\":}}", "{'cniVersion':'1.0.0'}",
    })
    void configurationThatIsNotAJsonObjectIsError6(String configuration) {
        FerryCni.Result r = FerryCni.attachment("ADD").stdin(configuration).run();

        assertEquals(1, r.exitCode(), r::toString);
        assertEquals(6, r.code(), r::toString);
        assertEquals("failed to decode the network configuration", r.msg());
    }

    @Test
    void agentSocketThatIsNotAStringIsError6() {
        FerryCni.Result r = FerryCni.attachment("ADD").stdin("{\"cniVersion\":\"1.0.0\",\"agentSocket\":42}").run();

        assertEquals(6, r.code(), r::toString);
        assertEquals("'agentSocket' must be a string", r.details());
    }

    @ParameterizedTest(name = "{0} holding {1}")
    @CsvSource({"CNI_ARGS, LF", "CNI_ARGS, CR", "CNI_NETNS, LF", "CNI_CONTAINERID, CR"})
    void lineBreakInAVariableIsError4(String variable, String lineBreak) {
        String value = "K8S_POD_NAME=web" + (lineBreak.equals("LF") ? "\n" : "\r") + "Injected: header";
        FerryCni.Result r = FerryCni.attachment("ADD").env(variable, value).stdin(CONFIG).run();

        assertEquals(1, r.exitCode(), r::toString);
        assertEquals(4, r.code());
        assertEquals("invalid env variable " + variable, r.msg());
    }

    @Test
    void stdinLargerThanOneMebibyteIsRefusedWithIoError() {
        byte[] huge = new byte[1024 * 1024 + 1];
        Arrays.fill(huge, (byte) ' ');
        FerryCni.Result r = FerryCni.attachment("ADD").stdin(huge).run();

        assertEquals(1, r.exitCode(), r::toString);
        assertEquals(5, r.code());
        assertEquals("failed to read the network configuration", r.msg());
        assertTrue(r.details().contains("larger than 1048576 bytes"), r::toString);
    }

    @Test
    void invalidTimeoutVariableIsError4() {
        FerryCni.Result r = FerryCni.attachment("ADD").env("FERRY_CNI_TIMEOUT_SECONDS", "soon").stdin(CONFIG).run();

        assertEquals(4, r.code(), r::toString);
        assertEquals("invalid env variable FERRY_CNI_TIMEOUT_SECONDS", r.msg());
    }

    @Test
    void agentSocketPathTooLongForAUnixSocketIsError7() {
        String config = "{\"cniVersion\":\"1.0.0\",\"agentSocket\":\"/run/" + "x".repeat(120) + ".sock\"}";
        FerryCni.Result r = FerryCni.attachment("ADD").stdin(config).run();

        assertEquals(7, r.code(), r::toString);
        assertEquals("invalid network configuration", r.msg());
    }
}
