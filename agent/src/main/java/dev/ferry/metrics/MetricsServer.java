package dev.ferry.metrics;

import dev.ferry.http.ConnectionCap;
import dev.ferry.http.ConnectionLimits;
import dev.ferry.http.IdleConnectionCloser;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The agent's HTTP port for Prometheus and the kubelet: {@code /metrics}
 * (Prometheus text, or OpenMetrics when the scraper asks for it),
 * {@code /healthz} (503 with the reason when the agent cannot serve) and
 * {@code /readyz} (503 with the reason when not ready).
 *
 * <p>The probes are answered on the event loop, which does nothing that blocks:
 * a scrape (a walk of the BPF maps and a rendering of every series) runs on a
 * thread of its own ({@link SharedRenderings}), so no number of scrapers can
 * hold a probe past the kubelet's timeout. Open connections are capped and idle
 * ones closed ({@link ConnectionLimits}).
 */
public final class MetricsServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MetricsServer.class);
    private static final int MAX_REQUEST_BYTES = 16 * 1024;
    /**
     * 128 connections: Prometheus keeps one per target (two for an HA pair), the kubelet's probes one each
     * while they run; the rest is room for people and tools. Idle 65 s: longer than a 60 s scrape interval,
     * so a scraper's keep-alive connection lives from one scrape to the next.
     */
    public static final ConnectionLimits DEFAULT_CONNECTIONS = new ConnectionLimits(128, Duration.ofSeconds(65));

    private final EventLoopGroup group;
    private final Channel channel;
    private final SharedRenderings renderings;
    private final ConnectionCap cap;

    private MetricsServer(EventLoopGroup group, Channel channel, SharedRenderings renderings, ConnectionCap cap) {
        this.group = group;
        this.channel = channel;
        this.renderings = renderings;
        this.cap = cap;
    }

    /** Binds {@code address} (port 0 picks a free one; see {@link #address()}) with {@link #DEFAULT_CONNECTIONS}. */
    public static MetricsServer start(InetSocketAddress address, Metrics metrics) {
        return start(address, metrics, DEFAULT_CONNECTIONS);
    }

    public static MetricsServer start(InetSocketAddress address, Metrics metrics, ConnectionLimits limits) {
        // One event loop is plenty: nothing on it blocks, a probe is answered in microseconds.
        EventLoopGroup group = new EpollEventLoopGroup(1, new DefaultThreadFactory("ferry-metrics", true));
        SharedRenderings renderings = new SharedRenderings(metrics::render);
        ConnectionCap cap = new ConnectionCap(limits.maxConnections(), (open, max) -> {
            metrics.connectionRefused();
            log.warn("event=connection_refused server=metrics reason=too_many_connections open={} max={}", open, max);
        });
        MetricsHandler.Routes routes = new MetricsHandler.Routes(metrics, renderings);
        try {
            Channel channel = new ServerBootstrap()
                    .group(group)
                    .channel(EpollServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline()
                                    .addLast("connection-cap", cap)
                                    .addLast("idle", IdleConnectionCloser.detector(limits))
                                    .addLast("http", new HttpServerCodec())
                                    .addLast("idle-closer", new IdleConnectionCloser())
                                    .addLast("aggregator", new HttpObjectAggregator(MAX_REQUEST_BYTES))
                                    .addLast("metrics", new MetricsHandler(routes));
                        }
                    })
                    .bind(address).sync().channel();
            log.info("event=metrics_listening address={} max_connections={} idle_timeout={}", channel.localAddress(),
                    limits.maxConnections(), limits.idleTimeout());
            return new MetricsServer(group, channel, renderings, cap);
        } catch (Exception e) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            renderings.close();
            throw new IllegalStateException("cannot serve metrics on " + address + ": " + e.getMessage(), e);
        }
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    /** Connections open now (a refused one until its close completes). */
    public int openConnections() {
        return cap.open();
    }

    /** Expositions rendered so far: concurrent scrapes share one. */
    long renderings() {
        return renderings.renderings();
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly();
        renderings.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
