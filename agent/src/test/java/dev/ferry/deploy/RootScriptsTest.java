package dev.ferry.deploy;

import dev.ferry.testing.Cleanup;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scripts that need root run as written from a root shell, where sudo may
 * not be installed (a fresh Debian box, CI), and re-run themselves with sudo
 * from any other user. Each is started as user nobody from a copy of the
 * repository's scripts, with a PATH that holds only what the scripts use before
 * they check (and, for the sudo case, a sudo that prints its arguments).
 */
@RequiresRoot
class RootScriptsTest {
    private static final List<String> TOOLS = List.of("bash", "id", "readlink", "dirname");

    private Path dir;

    @BeforeEach
    void copyTheScripts() throws IOException {
        dir = Files.createTempDirectory("ferry-root-scripts-");
        for (String file : List.of("scripts/setup.sh", "scripts/test.sh", "scripts/demo.sh", "bench/run.sh")) {
            Path copy = dir.resolve("repo").resolve(file);
            Files.createDirectories(copy.getParent());
            Files.copy(Repo.path(file), copy);
        }
        Path bin = Files.createDirectories(dir.resolve("bin"));
        for (String tool : TOOLS) {
            Files.createSymbolicLink(bin.resolve(tool), Path.of(Shell.run("bash", "-c", "command -v " + tool).strip()));
        }
        Files.writeString(dir.resolve("sudo"), "#!/bin/sh\nprintf '%s\\n' \"$@\"\n");
        Shell.run("chmod", "-R", "a+rX", dir.toString());
        Shell.run("chmod", "a+x", dir.resolve("sudo").toString());
    }

    @AfterEach
    void removeTheCopy() {
        Cleanup.deleteTree(dir);
    }

    @ParameterizedTest
    @ValueSource(strings = {"scripts/test.sh", "scripts/demo.sh", "bench/run.sh"})
    void startedByAnotherUserTheScriptReRunsItselfWithSudoKeepingItsArguments(String script) throws IOException {
        Path bin = dir.resolve("bin");
        Files.createSymbolicLink(bin.resolve("sudo"), dir.resolve("sudo"));

        Shell.Result r = asNobody(bin, script, "--quick", "two words");

        assertEquals(0, r.exitCode(), r.toString());
        assertEquals(List.of("--", dir.resolve("repo").resolve(script).toString(), "--quick", "two words"),
                r.stdout().lines().toList(), "sudo's arguments");
        assertTrue(r.stderr().contains("re-running"), r.stderr());
    }

    @ParameterizedTest
    @ValueSource(strings = {"scripts/test.sh", "scripts/demo.sh", "bench/run.sh"})
    void startedByAnotherUserWithoutSudoTheScriptSaysToRunItAsRoot(String script) {
        Shell.Result r = asNobody(dir.resolve("bin"), script);

        assertEquals(1, r.exitCode(), r.toString());
        assertTrue(r.stderr().contains("must run as root") && r.stderr().contains("sudo is not installed"), r.stderr());
    }

    @Test
    void theReadmeShowsThePlainCommandsAndCiRunsItsTestCommand() {
        String readme = Repo.read("README.md");
        assertTrue(readme.contains("\n./scripts/demo.sh\n"), "README shows ./scripts/demo.sh as a command of its own");
        assertTrue(readme.contains("\n./scripts/test.sh\n"), "README shows ./scripts/test.sh as a command of its own");
        assertTrue(readme.lines().noneMatch(l -> l.startsWith("sudo ")), "no README command needs sudo");
        assertTrue(Repo.read(".ci/run").lines().anyMatch(l -> l.equals("exec ./scripts/test.sh")), "CI runs the README's test command");
    }

    /** Runs the copy of {@code script} as nobody with nothing in the environment but PATH. */
    private Shell.Result asNobody(Path path, String script, String... args) {
        List<String> command = new ArrayList<>(List.of("runuser", "-u", "nobody", "--", "env", "-i", "PATH=" + path,
                dir.resolve("repo").resolve(script).toString()));
        command.addAll(List.of(args));
        return Shell.exec(command.toArray(String[]::new));
    }
}
