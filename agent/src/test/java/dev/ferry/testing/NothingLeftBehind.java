package dev.ferry.testing;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.function.Supplier;

/**
 * For suites whose tests share one {@link CniNode}: each test must leave the
 * node's {@link Footprint} as it found it (pods a test adds, it deletes).
 * Register it as a static field: {@code @RegisterExtension static final
 * NothingLeftBehind nothingLeft = new NothingLeftBehind(() -> node);}
 */
public final class NothingLeftBehind implements BeforeEachCallback, AfterEachCallback {
    private static final ExtensionContext.Namespace STORE = ExtensionContext.Namespace.create(NothingLeftBehind.class);

    private final Supplier<CniNode> node;

    public NothingLeftBehind(Supplier<CniNode> node) {
        this.node = node;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        context.getStore(STORE).put("before", node.get().footprint());
    }

    @Override
    public void afterEach(ExtensionContext context) {
        node.get().assertNothingLeftSince(context.getStore(STORE).get("before", Footprint.class));
    }
}
