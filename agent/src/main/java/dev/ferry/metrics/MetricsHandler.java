package dev.ferry.metrics;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

/**
 * Answers one connection of the metrics port. The probes and errors are answered
 * at once, on the event loop; a scrape is handed to the renderer and answered when
 * its rendering is done, and until then the connection reads no further request,
 * so that answers leave in the order their requests came (HTTP/1.1 pipelining).
 */
final class MetricsHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger log = LoggerFactory.getLogger(MetricsHandler.class);

    /** What every connection of one server answers from. */
    record Routes(Metrics metrics, SharedRenderings renderings) {
    }

    private final Routes routes;
    /** This connection's last answer; the next one goes out after it. Touched on the event loop only. */
    private CompletableFuture<Void> previous = CompletableFuture.completedFuture(null);

    MetricsHandler(Routes routes) {
        this.routes = routes;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        CompletableFuture<FullHttpResponse> response = respond(request);
        if (previous.isDone() && response.isDone()) {
            write(ctx, response.join(), keepAlive);
            return;
        }
        ctx.channel().config().setAutoRead(false);
        previous = previous.thenCombine(response, (before, r) -> r).thenAcceptAsync(r -> {
            write(ctx, r, keepAlive);
            ctx.channel().config().setAutoRead(true);
        }, ctx.executor());
    }

    private CompletableFuture<FullHttpResponse> respond(FullHttpRequest request) {
        if (request.method() != HttpMethod.GET && request.method() != HttpMethod.HEAD) {
            return CompletableFuture.completedFuture(text(HttpResponseStatus.METHOD_NOT_ALLOWED, "only GET\n"));
        }
        String path = new QueryStringDecoder(request.uri()).path();
        Metrics metrics = routes.metrics();
        FullHttpResponse now = switch (path) {
            case "/metrics" -> null;
            case "/healthz" -> metrics.notLiveReason()
                    .map(reason -> text(HttpResponseStatus.SERVICE_UNAVAILABLE, "not live: " + reason + "\n"))
                    .orElseGet(() -> text(HttpResponseStatus.OK, "ok\n"));
            case "/readyz" -> metrics.notReadyReason()
                    .map(reason -> text(HttpResponseStatus.SERVICE_UNAVAILABLE, "not ready: " + reason + "\n"))
                    .orElseGet(() -> text(HttpResponseStatus.OK, "ready\n"));
            default -> text(HttpResponseStatus.NOT_FOUND, "no such path: " + path + " (try /metrics, /healthz, /readyz)\n");
        };
        if (now != null) {
            return CompletableFuture.completedFuture(now);
        }
        Metrics.Format format = Metrics.Format.of(request.headers().get(HttpHeaderNames.ACCEPT));
        return routes.renderings().next(format).handle((exposition, failure) -> {
            if (failure != null) {
                log.warn("event=scrape_failed error=\"{}\"", failure.toString());
                return text(HttpResponseStatus.INTERNAL_SERVER_ERROR, "scrape failed: " + failure.getMessage() + "\n");
            }
            return response(HttpResponseStatus.OK, exposition.contentType(), exposition.body());
        });
    }

    private static void write(ChannelHandlerContext ctx, FullHttpResponse response, boolean keepAlive) {
        HttpUtil.setContentLength(response, response.content().readableBytes());
        HttpUtil.setKeepAlive(response, keepAlive);
        var written = ctx.writeAndFlush(response);
        if (!keepAlive) {
            written.addListener(ChannelFutureListener.CLOSE);
        }
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
