package dev.ferry.masquerade;

import dev.ferry.net.IpPrefix;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The table's one writer, in a namespace of its own: updates and the periodic rewrite never undo each other. */
@RequiresRoot
class MasqueradeWriterTest {
    private static final IpPrefix OLD = IpPrefix.parse("10.251.0.0/24");
    private static final IpPrefix NEW = IpPrefix.parse("10.252.0.0/24");
    private static final Duration PERIOD = Duration.ofMillis(200);

    private TestNetns node;
    private MasqueradeWriter writer;

    @BeforeEach
    void node() {
        node = TestNetns.create("msqw");
    }

    @AfterEach
    void cleanUp() {
        if (writer != null) {
            writer.close();
        }
        node.close();
    }

    private MasqueradeWriter writer(boolean enabled) {
        writer = new MasqueradeWriter(new Masquerade(node.handle()), enabled ? MasqueradeFamilies.ALL : MasqueradeFamilies.NONE, List.of(), PERIOD);
        return writer;
    }

    private String podCidrsSet() {
        return node.exec("nft", "list", "set", "ip", "ferry", "pod_cidrs").stdout();
    }

    private boolean tableExists() {
        return node.exec("nft", "list", "tables", "ip").stdout().contains("table ip ferry\n");
    }

    @Test
    void theLastUpdateIsWhatTheTableHolds() {
        MasqueradeWriter w = writer(true);

        w.update(Set.of(OLD));
        w.update(Set.of(NEW)).join();

        assertTrue(podCidrsSet().contains(NEW.toString()), podCidrsSet());
        assertFalse(podCidrsSet().contains(OLD.toString()), podCidrsSet());
    }

    @Test
    void theRewriteRestoresADeletedTableWithTheLatestCidrsNotAnOlderSet() {
        MasqueradeWriter w = writer(true);
        w.update(Set.of(OLD)).join();
        w.update(Set.of(NEW)).join();

        node.exec("nft", "delete", "table", "ip", "ferry");

        await().atMost(Duration.ofSeconds(10)).until(this::tableExists);
        assertTrue(podCidrsSet().contains(NEW.toString()), podCidrsSet());
        assertFalse(podCidrsSet().contains(OLD.toString()), podCidrsSet());
    }

    @Test
    void aBurstOfUpdatesIsWrittenInFewerRunsEndingWithTheLast() {
        MasqueradeWriter w = writer(true);
        int updates = 50;
        CompletableFuture<Void> last = null;
        for (int i = 0; i < updates; i++) {
            last = w.update(Set.of(i == updates - 1 ? NEW : IpPrefix.parse("10.251." + i + ".0/24")));
        }
        last.join();

        assertTrue(w.writes() < updates, w.writes() + " writes for " + updates + " updates");
        assertTrue(podCidrsSet().contains(NEW.toString()), podCidrsSet());
        assertFalse(podCidrsSet().contains("10.251.0.0/24"), podCidrsSet());
    }

    @Test
    void turnedOffTheRewriteKeepsTheTableAway() {
        MasqueradeWriter w = writer(false);
        w.update(Set.of(NEW)).join();
        assertFalse(tableExists());

        node.exec("nft", "add", "table", "ip", "ferry");

        await().atMost(Duration.ofSeconds(10)).until(() -> !tableExists());
    }

    @Test
    void nothingIsWrittenBeforeTheFirstUpdate() {
        writer(true);

        // Kubernetes mode knows no pod CIDRs before the Nodes are listed: no rewrite may make an empty table meanwhile.
        await().during(PERIOD.multipliedBy(3)).atMost(PERIOD.multipliedBy(10)).until(() -> !tableExists());
    }
}
