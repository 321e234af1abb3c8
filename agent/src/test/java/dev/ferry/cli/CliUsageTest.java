package dev.ferry.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How ferry answers its own usage, without an agent: help per command (exit 0), usage errors (exit 2). */
class CliUsageTest {
    private record Run(int exit, String out, String err) {
    }

    private static Run ferry(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = new Main(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8))
                .run(args);
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void helpListsEveryCommand() {
        Run r = ferry("--help");

        assertEquals(0, r.exit());
        for (String command : new String[] {"status", "endpoint", "datapath", "egress", "mirror", "completion"}) {
            assertTrue(r.out().contains("  " + command + " "), command + " missing from: " + r.out());
        }
    }

    @Test
    void eachCommandHasItsOwnHelp() {
        Run r = ferry("datapath", "stats", "--help");

        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("usage: ferry datapath stats"), r.out());
        assertTrue(r.out().contains("--interval=SECONDS"), r.out());
    }

    @Test
    void helpAfterAnUnknownCommandIsAUsageErrorNamingIt() {
        Run r = ferry("anything", "--help");

        assertEquals(2, r.exit(), r.out());
        assertTrue(r.err().startsWith("ferry: unknown command 'anything'"), r.err());
        assertEquals("", r.out());
    }

    @Test
    void anUnknownCommandIsExitTwoWithTheUsage() {
        Run r = ferry("frobnicate");

        assertEquals(2, r.exit());
        assertTrue(r.err().startsWith("ferry: unknown command 'frobnicate'") && r.err().contains("usage: ferry"), r.err());
    }

    @Test
    void noCommandIsExitTwo() {
        Run r = ferry();

        assertEquals(2, r.exit());
        assertTrue(r.err().startsWith("ferry: no command given"), r.err());
    }

    @Test
    void anArgumentACommandDoesNotTakeIsExitTwoWithThatCommandsUsage() {
        Run r = ferry("status", "extra");

        assertEquals(2, r.exit());
        assertTrue(r.err().startsWith("ferry: unexpected argument 'extra'") && r.err().contains("usage: ferry status"), r.err());
    }

    @Test
    void anUnknownOptionIsExitTwo() {
        Run r = ferry("endpoint", "list", "--colour");

        assertEquals(2, r.exit());
        assertTrue(r.err().startsWith("ferry: unknown option '--colour'"), r.err());
    }

    @Test
    void endpointGetWithoutAContainerIdIsExitTwo() {
        Run r = ferry("endpoint", "get");

        assertEquals(2, r.exit());
        assertTrue(r.err().contains("CONTAINER_ID"), r.err());
    }

    @Test
    void anOutputFormatOtherThanTableOrJsonIsExitTwo() {
        Run r = ferry("status", "-o", "yaml");

        assertEquals(2, r.exit());
        assertTrue(r.err().contains("expected one of [table, json]"), r.err());
    }

    @Test
    void anIntervalThatIsNotAPositiveNumberIsExitTwo() {
        assertEquals(2, ferry("datapath", "stats", "--interval", "0").exit());
        assertEquals(2, ferry("datapath", "stats", "--interval", "-1").exit());
        assertEquals(2, ferry("datapath", "stats", "--interval", "soon").exit());
    }

    @Test
    void theSocketMayBeGivenBeforeOrAfterTheCommand() {
        Run before = ferry("--socket", "/nonexistent/ferry-cli-test.sock", "status");
        Run after = ferry("status", "--socket", "/nonexistent/ferry-cli-test.sock");

        assertEquals(1, before.exit());
        assertEquals(1, after.exit());
        assertTrue(before.err().contains("cannot reach the agent at /nonexistent/ferry-cli-test.sock"), before.err());
        assertTrue(after.err().contains("cannot reach the agent at /nonexistent/ferry-cli-test.sock"), after.err());
    }

    @Test
    void mirrorListWithNoAgentIsExitOneNamingTheSocket() {
        Run r = ferry("--socket", "/nonexistent/ferry-cli-test.sock", "mirror", "list");

        assertEquals(1, r.exit(), r.out());
        assertTrue(r.err().startsWith("ferry: cannot reach the agent at /nonexistent/ferry-cli-test.sock"), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
    }

    @Test
    void mirrorWithoutListIsExitTwo() {
        Run r = ferry("mirror");

        assertEquals(2, r.exit());
        assertTrue(r.err().startsWith("ferry: mirror needs a command: list"), r.err());
    }

    @Test
    void completionIsABashScriptThatKnowsTheCommands() {
        Run r = ferry("completion");

        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("#!/usr/bin/env bash"), r.out());
        assertTrue(r.out().contains("complete -F _complete_ferry") || r.out().contains("_picocli_ferry"), r.out());
        assertTrue(r.out().contains("endpoint") && r.out().contains("datapath"), "commands in the script");
    }
}
