package dev.ferry.metrics;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The agent's HTTP port for Prometheus and the kubelet: {@code /metrics}
 * (Prometheus text, or OpenMetrics when the scraper asks for it),
 * {@code /healthz} (503 with the reason when the agent cannot serve) and
 * {@code /readyz} (503 with the reason when not ready).
 * One event-loop thread: a scrape reads the BPF maps, which takes
 * milliseconds, and scrapes come seconds apart.
 */
public final class MetricsServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MetricsServer.class);
    private static final int MAX_REQUEST_BYTES = 16 * 1024;

    private final EventLoopGroup group;
    private final Channel channel;

    private MetricsServer(EventLoopGroup group, Channel channel) {
        this.group = group;
        this.channel = channel;
    }

    /** Binds {@code address} (port 0 picks a free one; see {@link #address()}). */
    public static MetricsServer start(InetSocketAddress address, Metrics metrics) {
        EventLoopGroup group = new EpollEventLoopGroup(1, new DefaultThreadFactory("ferry-metrics", true));
        try {
            Channel channel = new ServerBootstrap()
                    .group(group)
                    .channel(EpollServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(MAX_REQUEST_BYTES),
                                    new Handler(metrics));
                        }
                    })
                    .bind(address).sync().channel();
            log.info("event=metrics_listening address={}", channel.localAddress());
            return new MetricsServer(group, channel);
        } catch (Exception e) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw new IllegalStateException("cannot serve metrics on " + address + ": " + e.getMessage(), e);
        }
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final Metrics metrics;

        Handler(Metrics metrics) {
            this.metrics = metrics;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            FullHttpResponse response = respond(request);
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            HttpUtil.setContentLength(response, response.content().readableBytes());
            HttpUtil.setKeepAlive(response, keepAlive);
            var written = ctx.writeAndFlush(response);
            if (!keepAlive) {
                written.addListener(ChannelFutureListener.CLOSE);
            }
        }

        private FullHttpResponse respond(FullHttpRequest request) {
            if (request.method() != HttpMethod.GET && request.method() != HttpMethod.HEAD) {
                return text(HttpResponseStatus.METHOD_NOT_ALLOWED, "only GET\n");
            }
            String path = new QueryStringDecoder(request.uri()).path();
            return switch (path) {
                case "/metrics" -> {
                    Metrics.Exposition e = metrics.scrape(request.headers().get(HttpHeaderNames.ACCEPT));
                    yield response(HttpResponseStatus.OK, e.contentType(), e.body());
                }
                case "/healthz" -> metrics.notLiveReason()
                        .map(reason -> text(HttpResponseStatus.SERVICE_UNAVAILABLE, "not live: " + reason + "\n"))
                        .orElseGet(() -> text(HttpResponseStatus.OK, "ok\n"));
                case "/readyz" -> metrics.notReadyReason()
                        .map(reason -> text(HttpResponseStatus.SERVICE_UNAVAILABLE, "not ready: " + reason + "\n"))
                        .orElseGet(() -> text(HttpResponseStatus.OK, "ready\n"));
                default -> text(HttpResponseStatus.NOT_FOUND, "no such path: " + path + " (try /metrics, /healthz, /readyz)\n");
            };
        }

        private static FullHttpResponse text(HttpResponseStatus status, String body) {
            return response(status, "text/plain; charset=utf-8", body.getBytes(StandardCharsets.UTF_8));
        }

        private static FullHttpResponse response(HttpResponseStatus status, String contentType, byte[] body) {
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
            return r;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.warn("event=metrics_request_failed error=\"{}\"", cause.toString());
            ctx.close();
        }
    }
}
