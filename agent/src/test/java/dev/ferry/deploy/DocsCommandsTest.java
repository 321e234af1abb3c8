package dev.ferry.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.ferry.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The commands and values the docs tell operators to use are real. */
class DocsCommandsTest {
    private static final Set<String> SHELL_ENDS = Set.of("|", "||", "&&", ";", "#", ">", ">>", "2>&1", ")", "\\");
    private static final Set<String> COMMAND_BEFORE = Set.of("--", "sudo", "$", "|", "||", "&&", ";");
    private static final Pattern SET_FLAG = Pattern.compile("--set(?:-string|-json)?[ =]([A-Za-z][\\w.]*)=");
    private static final Pattern VALUES_ROW = Pattern.compile("(?m)^\\| `([A-Za-z][\\w.]*)` \\|");

    /** Lines inside fenced code blocks of README.md and docs/*.md, prefixed with their file. */
    private static List<String> codeLines() {
        List<Path> files = new ArrayList<>(List.of(Repo.path("README.md")));
        try (Stream<Path> docs = Files.list(Repo.path("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(files::add);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> lines = new ArrayList<>();
        for (Path f : files) {
            boolean inCode = false;
            for (String line : Repo.read(Repo.root().relativize(f).toString()).split("\n")) {
                if (line.strip().startsWith("```")) {
                    inCode = !inCode;
                } else if (inCode) {
                    lines.add(f.getFileName() + ": " + line);
                }
            }
        }
        return lines;
    }

    /**
     * Each `ferry ...` (or `.../bin/ferry ...`) invocation in command position (first word, or after
     * `--`, `sudo` or a shell operator, so not nft's `table ip ferry`): the words after it up to a shell operator.
     */
    static List<List<String>> ferryInvocations() {
        List<List<String>> found = new ArrayList<>();
        for (String line : codeLines()) {
            String[] words = line.substring(line.indexOf(": ") + 2).trim().split("\\s+");
            for (int i = 0; i < words.length; i++) {
                boolean commandPosition = i == 0 || COMMAND_BEFORE.contains(words[i - 1]);
                if (commandPosition && (words[i].equals("ferry") || words[i].endsWith("/bin/ferry"))) {
                    List<String> args = new ArrayList<>();
                    for (int j = i + 1; j < words.length && !SHELL_ENDS.contains(words[j]); j++) {
                        args.add(words[j]);
                    }
                    found.add(args);
                }
            }
        }
        return found;
    }

    @Test
    void everyFerryCommandInTheDocsParsesWithTheRealCli(@TempDir Path dir) {
        List<List<String>> invocations = ferryInvocations();
        assertTrue(invocations.size() >= 5, "expected the docs to show the CLI: " + invocations);
        for (List<String> args : invocations) {
            List<String> withSocket = new ArrayList<>(List.of("--socket", dir.resolve("absent.sock").toString()));
            for (int i = 0; i < args.size(); i++) {
                if (args.get(i).equals("--socket")) {
                    i++; // the docs' socket, replaced by one that does not exist
                } else {
                    withSocket.add(args.get(i));
                }
            }
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int status = new Main(new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8))
                    .run(withSocket.toArray(String[]::new));
            boolean help = args.contains("-h") || args.contains("--help");
            // 1: parsed, then the agent was unreachable; 2 would be a usage error.
            assertEquals(help ? 0 : 1, status, "ferry " + String.join(" ", args) + ": " + err.toString(StandardCharsets.UTF_8));
        }
    }

    @Test
    void theCliScanFindsACommandAndItsFlags() {
        List<List<String>> invocations = ferryInvocations();
        assertTrue(invocations.contains(List.of("status")), invocations.toString());
        assertTrue(invocations.stream().anyMatch(a -> a.contains("-o")), invocations.toString());
    }

    @Test
    void everyHelmValueTheDocsNameExistsInValuesYaml() throws IOException {
        JsonNode values = new YAMLMapper().readTree(Repo.read("helm/ferry/values.yaml"));
        List<String> named = new ArrayList<>();
        for (String line : codeLines()) {
            Matcher m = SET_FLAG.matcher(line);
            while (m.find()) {
                named.add(m.group(1));
            }
        }
        Matcher rows = VALUES_ROW.matcher(Repo.read("docs/configuration.md").split("## Helm values", 2)[1]);
        while (rows.find()) {
            named.add(rows.group(1));
        }
        assertTrue(named.size() >= 10, "expected docs/configuration.md to list the Helm values: " + named);
        for (String key : named) {
            JsonNode node = values;
            for (String part : key.split("\\.")) {
                node = node.path(part);
            }
            assertFalse(node.isMissingNode(), key + " is named in the docs but not in helm/ferry/values.yaml");
        }
    }
}
