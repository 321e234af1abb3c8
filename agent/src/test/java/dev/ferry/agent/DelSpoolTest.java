package dev.ferry.agent;

import dev.ferry.cni.CniCommand;
import dev.ferry.cni.CniError;
import dev.ferry.cni.CniReply;
import dev.ferry.cni.CniRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Replaying DELs that the real ferry-cni spooled while no agent listened. */
class DelSpoolTest {
    static final CniReply DELETED = CniReply.Done.INSTANCE;

    @TempDir
    Path dir;

    private final List<CniRequest> handled = new ArrayList<>();

    private Path socket() {
        return dir.resolve("nobody-listens.sock");
    }

    private Path spool() {
        return dir.resolve("state/cni-spool");
    }

    private Path spoolDel(String containerId) throws Exception {
        return SpoolingPlugin.spoolDel(socket(), spool(), containerId);
    }

    private DelSpool.Drain drain(Function<CniRequest, CniReply> cni) {
        return drain(new DelSpool(spool()), cni);
    }

    private DelSpool.Drain drain(DelSpool spool, Function<CniRequest, CniReply> cni) {
        return spool.drain(request -> {
            handled.add(request);
            return cni.apply(request);
        });
    }

    private List<String> spoolFiles() throws IOException {
        try (Stream<Path> files = Files.list(spool())) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aSpooledDelIsReplayedAsTheRequestThePluginWouldHaveSentAndRemoved() throws Exception {
        spoolDel("c0ffee01");

        DelSpool.Drain drain = drain(r -> DELETED);

        CniRequest r = handled.getFirst();
        assertAll(
                () -> assertEquals(new DelSpool.Drain(1, 0, 0, 0), drain),
                () -> assertEquals(CniCommand.DEL, r.command()),
                () -> assertEquals("c0ffee01", r.containerId()),
                () -> assertEquals("eth0", r.ifname()),
                () -> assertEquals("/var/run/netns/cni-c0ffee01", r.netns()),
                () -> assertEquals("pod-c0ffee01", r.args().podName().orElseThrow()),
                () -> assertEquals("ferry", r.config().name()),
                () -> assertEquals(spool().toString(), r.config().spoolDir().orElseThrow()),
                () -> assertEquals(List.of(), spoolFiles()));
    }

    @Test
    void everySpooledDelIsReplayedInNameOrder() throws Exception {
        spoolDel("bbbb");
        spoolDel("aaaa");

        assertEquals(new DelSpool.Drain(2, 0, 0, 0), drain(r -> DELETED));
        assertEquals(List.of("aaaa", "bbbb"), handled.stream().map(CniRequest::containerId).toList());
    }

    @Test
    void aDelThatFailsIsKeptForTheNextStart() throws Exception {
        spoolDel("c0ffee02");

        DelSpool.Drain drain = drain(r -> new CniError(CniError.IO_FAILURE, "failed to delete link", "EBUSY"));

        assertEquals(new DelSpool.Drain(0, 1, 0, 0), drain);
        assertEquals(List.of("del-c0ffee02-eth0.req"), spoolFiles());
        assertEquals(new DelSpool.Drain(1, 0, 0, 0), drain(r -> DELETED), "the next start replays it");
    }

    @Test
    void aSecondDrainOfTheSameSpoolTriesOnlyNewFiles() throws Exception {
        DelSpool spool = new DelSpool(spool());
        spoolDel("aaaa");
        drain(spool, r -> new CniError(CniError.IO_FAILURE, "failed to delete link", "EBUSY"));
        spoolDel("bbbb");

        assertEquals(new DelSpool.Drain(1, 0, 0, 0), drain(spool, r -> DELETED));
        assertEquals(List.of("aaaa", "bbbb"), handled.stream().map(CniRequest::containerId).toList());
        assertEquals(List.of("del-aaaa-eth0.req"), spoolFiles(), "the failed one waits for the next start");
    }

    @Test
    void aDelWhoseHandlerThrowsIsKeptAndTheOthersStillReplay() throws Exception {
        spoolDel("aaaa");
        spoolDel("bbbb");

        DelSpool.Drain drain = drain(r -> {
            if (r.containerId().equals("aaaa")) {
                throw new IllegalStateException("netlink went away");
            }
            return DELETED;
        });

        assertEquals(new DelSpool.Drain(1, 1, 0, 0), drain);
        assertEquals(List.of("del-aaaa-eth0.req"), spoolFiles());
    }

    @Test
    void aTruncatedFileIsMovedAsideAndTheOthersStillReplay() throws Exception {
        Path truncated = spoolDel("aaaa");
        byte[] bytes = Files.readAllBytes(truncated);
        Files.write(truncated, Arrays.copyOf(bytes, bytes.length - 5));
        spoolDel("bbbb");

        DelSpool.Drain drain = drain(r -> DELETED);

        assertEquals(new DelSpool.Drain(1, 0, 1, 0), drain);
        assertEquals(List.of("bbbb"), handled.stream().map(CniRequest::containerId).toList());
        assertEquals(List.of("del-aaaa-eth0.req.bad"), spoolFiles());
        assertEquals(DelSpool.Drain.NOTHING, drain(r -> DELETED), "a .bad file is not retried");
    }

    @Test
    void aSpooledDelOthersCanWriteIsMovedAsideAndNeverHandled() throws Exception {
        Path file = spoolDel("aaaa");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-rw-rw-"));

        assertEquals(new DelSpool.Drain(0, 0, 1, 0), drain(r -> DELETED));
        assertEquals(List.of("del-aaaa-eth0.req.bad"), spoolFiles());
        assertEquals(List.of(), handled);
    }

    @Test
    void aSpooledDelNotOwnedByRootIsMovedAsideAndNeverHandled() throws Exception {
        Path file = spoolDel("aaaa");
        Files.setAttribute(file, "unix:uid", 65534); // nobody

        assertEquals(new DelSpool.Drain(0, 0, 1, 0), drain(r -> DELETED));
        assertEquals(List.of("del-aaaa-eth0.req.bad"), spoolFiles());
        assertEquals(List.of(), handled);
    }

    @Test
    void garbageIsMovedAside() throws Exception {
        Files.createDirectories(spool());
        Files.writeString(spool().resolve("del-x-eth0.req"), "not a request at all");

        assertEquals(new DelSpool.Drain(0, 0, 1, 0), drain(r -> DELETED));
        assertEquals(List.of("del-x-eth0.req.bad"), spoolFiles());
        assertEquals(List.of(), handled);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            only a DEL is ever replayed            | CNI-Command: DEL    | CNI-Command: ADD
            a request the CNI layer refuses        | CNI-IfName: eth0{CRLF} |
            a request for another path             | POST /v1/cni        | POST /v1/cnx
            """)
    void anEditedSpoolFileIsMovedAsideAndNeverHandled(String what, String from, String to) throws Exception {
        Path file = spoolDel("aaaa");
        Files.writeString(file, Files.readString(file).replace(from.replace("{CRLF}", "\r\n"), to == null ? "" : to));

        assertEquals(new DelSpool.Drain(0, 0, 1, 0), drain(r -> DELETED), what);
        assertEquals(List.of("del-aaaa-eth0.req.bad"), spoolFiles());
        assertEquals(List.of(), handled);
    }

    @Test
    void staleTemporaryFilesAreRemovedAndFreshOnesLeftToTheirPlugin() throws Exception {
        Files.createDirectories(spool());
        Path stale = Files.writeString(spool().resolve(".tmp-del.AbC123"), "POST /v1/cni HTTP/1.1\r\n");
        Files.setLastModifiedTime(stale, FileTime.from(Instant.now().minus(DelSpool.STALE_TEMP_AGE.multipliedBy(2))));
        Files.writeString(spool().resolve(".tmp-del.XyZ789"), "POST /v1/cni HTTP/1.1\r\n");

        assertEquals(new DelSpool.Drain(0, 0, 0, 1), drain(r -> DELETED));
        assertEquals(List.of(".tmp-del.XyZ789"), spoolFiles());
    }

    @Test
    void noSpoolDirectoryIsNothingToDo() {
        assertEquals(DelSpool.Drain.NOTHING, drain(r -> DELETED));
    }

    @Test
    void parsingKeepsTheBodyByteForByte() throws Exception {
        byte[] body = "{\"cniVersion\":\"1.1.0\",\"name\":\"ferry\",\"type\":\"ferry-cni\",\"x\":\"\u00e9\"}"
                .getBytes(StandardCharsets.UTF_8);
        byte[] head = ("POST /v1/cni HTTP/1.1\r\nHost: ferry\r\ncni-command: DEL\r\nContent-Length: " + body.length
                + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] data = new byte[head.length + body.length];
        System.arraycopy(head, 0, data, 0, head.length);
        System.arraycopy(body, 0, data, head.length, body.length);

        SpooledRequest parsed = SpooledRequest.parse(data);

        assertArrayEquals(body, parsed.body());
        assertEquals("DEL", parsed.headers().get("CNI-Command"), "header names are case-insensitive");
    }
}
