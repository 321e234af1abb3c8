package dev.ferry.api;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The agent socket: HTTP/1.1 over a unix domain socket (Netty, epoll), serving
 * ferry-cni's {@code POST /v1/cni} and the CLI's API. Root-only by file mode
 * (0600) and by the peer's credentials.
 */
public final class AgentSocketServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AgentSocketServer.class);
    private static final Set<PosixFilePermission> SOCKET_MODE = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> DIRECTORY_MODE = PosixFilePermissions.fromString("rwxr-xr-x");

    private final Path socket;
    private final Channel channel;
    private final EventLoopGroup acceptor;
    private final EventLoopGroup workers;
    private final ExecutorService handlers;
    private final AgentSocketInitializer initializer;
    private final Duration stuckAfter;

    private AgentSocketServer(Path socket, Channel channel, EventLoopGroup acceptor, EventLoopGroup workers,
                              ExecutorService handlers, AgentSocketInitializer initializer, Duration stuckAfter) {
        this.socket = socket;
        this.initializer = initializer;
        this.stuckAfter = stuckAfter;
        this.channel = channel;
        this.acceptor = acceptor;
        this.workers = workers;
        this.handlers = handlers;
    }

    /**
     * Serves {@code router} on {@code socket}. A stale socket file (nothing accepts on
     * it) is replaced; a live one makes this fail, so two agents never share a socket.
     */
    public static AgentSocketServer start(Path socket, ApiRouter router, AgentSocketOptions options) {
        Path path = socket.toAbsolutePath();
        prepare(path);
        // Route handlers block on netlink and BPF work: never on an event loop.
        ExecutorService handlers = Executors.newFixedThreadPool(options.maxInFlight(),
                new DefaultThreadFactory("ferry-api-handler", true));
        EventLoopGroup acceptor = new EpollEventLoopGroup(1, new DefaultThreadFactory("ferry-api-accept", true));
        EventLoopGroup workers = new EpollEventLoopGroup(2, new DefaultThreadFactory("ferry-api-io", true));
        AgentSocketInitializer initializer = new AgentSocketInitializer(options, router, handlers);
        try {
            Channel channel = new ServerBootstrap()
                    .group(acceptor, workers)
                    .channel(EpollServerDomainSocketChannel.class)
                    .childHandler(initializer)
                    .bind(new DomainSocketAddress(path.toString()))
                    .syncUninterruptibly()
                    .channel();
            AgentSocketServer server = new AgentSocketServer(path, channel, acceptor, workers, handlers, initializer, options.stuckAfter());
            try {
                restrictMode(path);
            } catch (RuntimeException e) {
                server.close();
                throw e;
            }
            log.info("event=socket_listening socket={} max_in_flight={} max_body_bytes={} allowed_uids={}"
                            + " max_connections={} idle_timeout={}",
                    path, options.maxInFlight(), options.maxBodyBytes(), options.allowedUids(),
                    options.connections().maxConnections(), options.connections().idleTimeout());
            return server;
        } catch (RuntimeException e) {
            shutDown(acceptor, workers, handlers);
            throw e;
        }
    }

    public Path socket() {
        return socket;
    }

    /** Connections open now (a refused one until its close completes). */
    public int openConnections() {
        return initializer.cap().open();
    }

    /** Connections closed at accept because {@code maxConnections} were open. */
    public long refusedConnections() {
        return initializer.cap().refused();
    }

    /** Requests admitted and not yet finished, over all connections. */
    public int inFlight() {
        return initializer.limiter().inFlight();
    }

    /**
     * Why the socket cannot take a request, for the liveness probe: it stopped
     * accepting, or every slot is held by requests that stopped finishing. Empty
     * when it serves; a busy socket whose requests finish is live.
     */
    public Optional<String> notServingReason() {
        if (!channel.isActive()) {
            return Optional.of("the agent socket " + socket + " no longer accepts connections");
        }
        return initializer.limiter().stuck(stuckAfter);
    }

    /** Stops accepting, closes every connection, stops the event loops and removes the socket file. */
    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        shutDown(acceptor, workers, handlers);
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            log.warn("event=socket_remove_failed socket={} error=\"{}\"", socket, e.toString());
        }
        log.info("event=socket_closed socket={}", socket);
    }

    private static void shutDown(EventLoopGroup acceptor, EventLoopGroup workers, ExecutorService handlers) {
        var a = acceptor.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        var w = workers.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        a.syncUninterruptibly();
        w.syncUninterruptibly();
        handlers.shutdown();
        try {
            if (!handlers.awaitTermination(5, TimeUnit.SECONDS)) {
                handlers.shutdownNow();
            }
        } catch (InterruptedException e) {
            handlers.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    /** Creates the parent directory and clears a stale socket file; fails when an agent answers there. */
    private static void prepare(Path path) {
        Path parent = path.getParent();
        try {
            if (!Files.isDirectory(parent)) {
                Files.createDirectories(parent);
                Files.setPosixFilePermissions(parent, DIRECTORY_MODE);
            }
            if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
                return;
            }
            BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS);
            if (!attributes.isOther()) {
                throw new IllegalStateException("failed to bind the agent socket '" + path
                        + "': the path exists and is not a socket");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("failed to prepare the agent socket '" + path + "': " + e.getMessage(), e);
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(path));
            throw new IllegalStateException("another agent is serving on " + path
                    + ": stop it, or give this agent its own socket");
        } catch (IOException refused) {
            // Nobody accepts on it: the file is left over from an agent that is gone.
            log.info("event=stale_socket_removed socket={} probe=\"{}\"", path, refused.getMessage());
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            throw new UncheckedIOException("failed to remove the stale agent socket '" + path + "': " + e.getMessage(), e);
        }
    }

    /** Makes the socket root-only and checks that it took (connecting needs write permission on it). */
    private static void restrictMode(Path path) {
        try {
            Files.setPosixFilePermissions(path, SOCKET_MODE);
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS);
            if (!mode.equals(SOCKET_MODE)) {
                throw new IllegalStateException("failed to restrict the agent socket '" + path + "': its mode is "
                        + PosixFilePermissions.toString(mode) + ", not rw-------");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("failed to restrict the agent socket '" + path + "': " + e.getMessage(), e);
        }
    }
}
