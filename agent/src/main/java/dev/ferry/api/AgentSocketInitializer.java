package dev.ferry.api;

import dev.ferry.http.ConnectionCap;
import dev.ferry.http.ConnectionLimits;
import dev.ferry.http.IdleConnectionCloser;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.Executor;

/** Only assembles the pipeline of an accepted connection, in order. */
final class AgentSocketInitializer extends ChannelInitializer<EpollDomainSocketChannel> {
    private static final Logger log = LoggerFactory.getLogger(AgentSocketInitializer.class);

    private final ConnectionCap cap;
    private final ConnectionLimits connections;
    private final PeerCredentialsCheck peerCheck;
    private final ConcurrencyLimiter limiter;
    private final ApiRequestHandler handler;
    private final int maxBodyBytes;

    AgentSocketInitializer(AgentSocketOptions options, ApiRouter router, Executor executor) {
        this.connections = options.connections();
        this.cap = new ConnectionCap(connections.maxConnections(), (open, max) ->
                log.warn("event=connection_refused server=socket reason=too_many_connections open={} max={}", open, max));
        this.peerCheck = new PeerCredentialsCheck(options.allowedUids());
        this.limiter = new ConcurrencyLimiter(options.maxInFlight());
        this.handler = new ApiRequestHandler(router, executor);
        this.maxBodyBytes = options.maxBodyBytes();
    }

    ConcurrencyLimiter limiter() {
        return limiter;
    }

    ConnectionCap cap() {
        return cap;
    }

    @Override
    protected void initChannel(EpollDomainSocketChannel channel) {
        channel.pipeline()
                .addLast("connection-cap", cap)
                .addLast("idle", IdleConnectionCloser.detector(connections))
                .addLast("peer-credentials", peerCheck)
                .addLast("http", new HttpServerCodec())
                .addLast("idle-closer", new IdleConnectionCloser())
                .addLast("aggregator", new BoundedAggregator(maxBodyBytes))
                .addLast("limiter", limiter)
                .addLast("api", handler);
    }
}
