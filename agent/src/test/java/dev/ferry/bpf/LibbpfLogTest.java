package dev.ferry.bpf;

import dev.ferry.testing.BpfPins;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.ferry.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@RequiresRoot
class LibbpfLogTest {
    private final BpfPins root = BpfPins.create("ferry-test-bpf");
    private final Logger logger = (Logger) LoggerFactory.getLogger(LibbpfLog.LOGGER_NAME);
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
    private Level previousLevel;

    @BeforeEach
    void capture() {
        previousLevel = logger.getLevel();
        logger.setLevel(Level.DEBUG);
        appender.start();
        logger.addAppender(appender);
    }

    @AfterEach
    void release() throws IOException {
        logger.detachAppender(appender);
        logger.setLevel(previousLevel);
        root.close();
    }

    @Test
    void libbpfDebugMessagesReachSlf4jFormatted() {
        String name = "log_" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0xffff));
        BpfObject.load(name, BpfFixtures.elf(BpfFixtures.LAYER), root.root()).close();
        List<ILoggingEvent> debug = appender.list.stream()
                .filter(e -> e.getLevel() == Level.DEBUG && e.getFormattedMessage().contains("'" + name + "'"))
                .toList();
        assertTrue(!debug.isEmpty(), "no DEBUG event names the object '" + name + "' (its name comes in as a %s "
                + "argument, so this also proves formatting): " + messages());
        assertTrue(debug.stream().noneMatch(e -> e.getFormattedMessage().endsWith("\n")), "trailing newlines are cut");
    }

    @Test
    void verifierRejectionIsLoggedAsWarning() {
        assertThrows(BpfException.class,
                () -> BpfObject.load("reject", BpfFixtures.elf(BpfFixtures.VERIFIER_REJECT), root.root()));
        assertTrue(appender.list.stream().anyMatch(e -> e.getLevel() == Level.WARN
                        && e.getFormattedMessage().contains("invalid access to packet")),
                "no WARN event with the verifier's complaint: " + messages());
    }

    @Test
    void installingAgainFromManyThreadsKeepsOneWorkingCallback() throws Exception {
        Thread[] threads = new Thread[8];
        for (int i = 0; i < threads.length; i++) {
            threads[i] = Thread.ofPlatform().start(LibbpfLog::install);
        }
        for (Thread t : threads) {
            t.join();
        }
        BpfObject.load("again", BpfFixtures.elf(BpfFixtures.LAYER), root.root()).close();
        long loading = appender.list.stream().filter(e -> e.getFormattedMessage().contains("'again'")).count();
        assertTrue(loading > 0, messages());
    }

    private String messages() {
        return appender.list.stream().limit(20).map(ILoggingEvent::getFormattedMessage).toList().toString();
    }
}
