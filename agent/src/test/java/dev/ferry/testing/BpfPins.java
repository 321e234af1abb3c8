package dev.ferry.testing;

import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A bpffs directory of a test's own, removed with everything pinned in it. Name
 * it {@code ferry-test-...}: scripts/test.sh fails the run when such a directory
 * outlives the tests.
 */
public final class BpfPins implements AutoCloseable {
    private final Path root;

    private BpfPins(Path root) {
        this.root = root;
    }

    public static BpfPins create(String prefix) {
        return new BpfPins(Path.of("/sys/fs/bpf",
                prefix + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000, 0xfffff))));
    }

    public Path root() {
        return root;
    }

    /** A path below the root, for a pin of the test's own. */
    public Path resolve(String name) {
        return root.resolve(name);
    }

    /** Unlinks every pin; maps and links go away once no process holds them. */
    public static void removeTree(Path root) {
        Cleanup.deleteTree(root);
    }

    @Override
    public void close() {
        removeTree(root);
    }
}
