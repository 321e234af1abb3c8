package dev.ferry.agent;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Writes the conflist when the agent becomes ready, once. A runtime sends a
 * node's pods to the first conflist in its directory, so the file appears only
 * when the agent can serve them; in kubernetes mode that is when the cluster
 * watch is first ready, which an API outage can delay for long (the socket
 * serves DEL meanwhile).
 */
final class ConfListWriter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ConfListWriter.class);

    private final AgentConfig config;
    private final long startedNanos;
    private boolean closed;

    /**
     * @param ready        completes when the agent is ready; at once if it already is
     * @param startedNanos when the agent began to start, for the log line that says how long it took
     */
    ConfListWriter(AgentConfig config, CompletionStage<Void> ready, long startedNanos) {
        this.config = config;
        this.startedNanos = startedNanos;
        CompletableFuture<Void> whenReady = ready.toCompletableFuture();
        if (whenReady.isDone()) {
            write(); // ready already (standalone mode): a conflist that cannot be written fails the start
        } else {
            whenReady.thenRun(this::writeOrLog);
        }
    }

    private void writeOrLog() {
        try {
            write();
        } catch (RuntimeException e) {
            log.error("event=cni_config_write_failed dir={} error=\"{}\"", config.cniConfDir(), e.getMessage(), e);
        }
    }

    private synchronized void write() {
        if (closed) {
            return; // the agent stopped before it was ready: no runtime should be sent to it
        }
        Path conflist = CniConfList.write(config);
        log.info("event=cni_config_written path={} cni_version={}", conflist, config.cniVersion());
        log.info("event=agent_ready node={} took_ms={}", config.nodeName(), (System.nanoTime() - startedNanos) / 1_000_000);
    }

    /** A readiness that comes after this writes nothing; a written conflist stays (it names this node's socket). */
    @Override
    public synchronized void close() {
        closed = true;
    }
}
