package dev.ferry.agent;

import dev.ferry.api.AgentSocketOptions;
import dev.ferry.api.AgentSocketServer;
import dev.ferry.api.ApiErrors;
import dev.ferry.api.ApiRouter;
import dev.ferry.api.CniRoute;
import dev.ferry.api.Routes;
import dev.ferry.cni.CniHandler;
import dev.ferry.cni.CniService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The agent socket as the agent serves it: ferry-cni's DELs spooled while no
 * agent listened are replayed first, because once the socket accepts a runtime
 * may ADD again what they free; then the socket is bound; then the spool is
 * drained again, for a plugin that found no socket between the two.
 */
final class AgentSocket implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AgentSocket.class);

    private final AgentSocketServer server;

    private AgentSocket(AgentSocketServer server) {
        this.server = server;
    }

    /** Serves {@code routes} on {@code socket}, with the spool's DELs replayed through {@code cni} around the bind. */
    static AgentSocket start(Path socket, ApiRouter routes, DelSpool spool, CniHandler cni) {
        logDrain(spool, spool.drain(cni), "before_socket");
        createPrivateDirectory(socket.getParent());
        AgentSocket served = new AgentSocket(AgentSocketServer.start(socket, routes, AgentSocketOptions.defaults()));
        logDrain(spool, spool.drain(cni), "after_socket");
        return served;
    }

    /**
     * A stand-in while nothing can be allocated (kubernetes mode before the Node
     * has a pod CIDR): STATUS answers code 50 with the reason, every other command
     * "try again later", {@code /v1/status} a 503. A DEL that finds no socket in the
     * moment between the stand-in and the real server is spooled by ferry-cni and
     * replayed by the drain after the bind.
     */
    static AgentSocket notRunning(Path socket, Supplier<String> reason) {
        createPrivateDirectory(socket.getParent());
        return new AgentSocket(AgentSocketServer.start(socket, Routes.builder()
                .post(CniRoute.PATH, new CniRoute(request -> CniService.notRunning(request, reason.get())))
                .get("/v1/status", (request, vars) -> ApiErrors.error(503, reason.get()))
                .build(), AgentSocketOptions.defaults()));
    }

    /** Why the socket cannot take a request now (it stopped accepting, or its requests hang); empty while it serves. */
    Optional<String> notServingReason() {
        return server.notServingReason();
    }

    /** Fails when an agent answers on the socket: checked before anything is touched, and again by the bind. */
    static void refuseIfServed(Path socket) {
        if (!Files.exists(socket)) {
            return;
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException nobodyListens) {
            return; // a stale file from an agent that is gone; the server replaces it
        }
        throw new IllegalStateException("another agent is serving on " + socket
                + ": stop it, or give this agent its own socket, stateDir and bpffsRoot");
    }

    /** Root-only: the state holds pod ownership and the spool, the socket's directory guards the socket. */
    static void createPrivateDirectory(Path dir) {
        if (Files.isDirectory(dir)) {
            return;
        }
        try {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new UncheckedIOException("failed to create directory '" + dir + "': " + e.getMessage(), e);
        }
    }

    private static void logDrain(DelSpool spool, DelSpool.Drain d, String when) {
        if (when.equals("before_socket") || !d.equals(DelSpool.Drain.NOTHING)) {
            log.info("event=spool_drained when={} dir={} replayed={} failed={} malformed={} stale_temps={}", when,
                    spool.dir(), d.replayed(), d.failed(), d.malformed(), d.staleTemps());
        }
    }

    /** Stops accepting and removes the socket file. */
    @Override
    public void close() {
        server.close();
    }
}
