package dev.ferry.api;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;

import java.util.concurrent.Executor;

/** Only assembles the pipeline of an accepted connection, in order. */
final class AgentSocketInitializer extends ChannelInitializer<EpollDomainSocketChannel> {
    private final PeerCredentialsCheck peerCheck;
    private final ConcurrencyLimiter limiter;
    private final ApiRequestHandler handler;
    private final int maxBodyBytes;

    AgentSocketInitializer(AgentSocketOptions options, ApiRouter router, Executor executor) {
        this.peerCheck = new PeerCredentialsCheck(options.allowedUids());
        this.limiter = new ConcurrencyLimiter(options.maxInFlight());
        this.handler = new ApiRequestHandler(router, executor);
        this.maxBodyBytes = options.maxBodyBytes();
    }

    ConcurrencyLimiter limiter() {
        return limiter;
    }

    @Override
    protected void initChannel(EpollDomainSocketChannel channel) {
        channel.pipeline()
                .addLast("peer-credentials", peerCheck)
                .addLast("http", new HttpServerCodec())
                .addLast("aggregator", new BoundedAggregator(maxBodyBytes))
                .addLast("limiter", limiter)
                .addLast("api", handler);
    }
}
