package dev.ferry.agent;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line: what an operator gets back for --help, a wrong invocation or a bad file. */
class MainTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private Main.Exit exit(String... args) {
        return assertThrows(Main.Exit.class, () -> Main.start(args, new PrintStream(out, true, StandardCharsets.UTF_8)));
    }

    @Test
    void helpPrintsUsageAndExitsZero() {
        Main.Exit e = exit("--help");

        assertEquals(0, e.status);
        assertEquals("", e.getMessage());
        assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("usage: ferry-agent --config FILE"));
    }

    @Test
    void noArgumentsIsAUsageError() {
        Main.Exit e = exit();

        assertEquals(2, e.status);
        assertEquals("missing --config FILE (usage: ferry-agent --config FILE; see --help)", e.getMessage());
    }

    @Test
    void unknownArgumentsAreAUsageError() {
        Main.Exit e = exit("--conifg", "x.yaml");

        assertEquals(2, e.status);
        assertTrue(e.getMessage().startsWith("unexpected arguments: --conifg x.yaml"), e.getMessage());
    }

    @Test
    void aMissingConfigFileExitsTwoNamingIt() {
        Main.Exit e = exit("--config", dir.resolve("agent.yaml").toString());

        assertEquals(2, e.status);
        assertEquals("config file '" + dir.resolve("agent.yaml") + "' does not exist", e.getMessage());
    }

    @Test
    void aBadKeyExitsTwoNamingTheFileAndTheKey() throws IOException {
        Path file = Files.writeString(dir.resolve("agent.yaml"), "podCIDRs: [10.244.1.0/24]\nuplinx: [eth0]\n");

        Main.Exit e = exit("--config=" + file);

        assertEquals(2, e.status);
        assertTrue(e.getMessage().startsWith("config file '" + file + "': unknown key 'uplinx'"), e.getMessage());
    }

    @Test
    void oneLineCarriesEveryCauseOnce() {
        RuntimeException e = new IllegalStateException("failed to load the datapath",
                new UncheckedIOException("failed to pin map", new IOException("Permission denied")));

        assertEquals("failed to load the datapath: failed to pin map: Permission denied", Main.oneLine(e));
    }

    @Test
    void anUnexpectedExceptionKeepsItsClassName() {
        assertEquals("java.lang.UnsupportedOperationException: stub", Main.oneLine(new UnsupportedOperationException("stub")));
    }
}
