package dev.ferry.api;

import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.AttributeKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * The business handler: turns a {@link FullHttpRequest} into an {@link ApiRequest},
 * runs the router on the handler executor (never on the event loop: handlers do
 * netlink and BPF work) and writes its answer. Requests of one connection are
 * answered in order: a pipelined request waits for the one before it.
 */
@ChannelHandler.Sharable
final class ApiRequestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger log = LoggerFactory.getLogger(ApiRequestHandler.class);
    private static final AttributeKey<CompletableFuture<Void>> LAST = AttributeKey.valueOf("ferry.last-request");

    private final ApiRouter router;
    private final Executor executor;

    ApiRequestHandler(ApiRouter router, Executor executor) {
        this.router = router;
        this.executor = executor;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest http) {
        ConcurrencyLimiter.Slot slot = ConcurrencyLimiter.take(ctx.channel());
        boolean keepAlive = HttpUtil.isKeepAlive(http);
        if (http.decoderResult().isFailure()) {
            slot.close();
            log.warn("event=bad_request error=\"{}\"", http.decoderResult().cause().toString());
            HttpResponses.write(ctx, ApiErrors.error(400, "malformed HTTP request"), false);
            return;
        }
        Map<String, String> headers = new HashMap<>();
        http.headers().forEach(h -> headers.merge(h.getKey(), h.getValue(), (a, b) -> a + ", " + b));
        ApiRequest request = new ApiRequest(http.method().name(), new QueryStringDecoder(http.uri()).path(),
                headers, ByteBufUtil.getBytes(http.content()), ctx.channel().attr(PeerCredentialsCheck.PEER).get());

        // Channel events arrive on its event loop one at a time, so LAST needs no lock.
        CompletableFuture<Void> previous = ctx.channel().attr(LAST).get();
        // The slot goes back when the work ends, not when the answer reaches the client: it may be gone.
        Runnable task = () -> {
            ApiResponse response;
            try (slot) {
                response = answer(request);
                if (response.stream() == null) {
                    HttpResponses.write(ctx, response, keepAlive);
                    return;
                }
            }
            // Outside the slot: a stream lasts as long as its client wants, and must not hold up CNI requests.
            HttpResponses.stream(ctx, response);
        };
        try {
            CompletableFuture<Void> next = previous == null
                    ? CompletableFuture.runAsync(task, executor)
                    : previous.thenRunAsync(task, executor);
            ctx.channel().attr(LAST).set(next.exceptionally(e -> null));
        } catch (RejectedExecutionException e) {
            slot.close();
            log.warn("event=request_rejected reason=executor_shut_down path={}", request.path());
            HttpResponses.write(ctx, ApiErrors.forPath(request.path(), request.body(), 503,
                    ApiErrors.CNI_TRY_AGAIN_LATER, "ferry agent is shutting down, try again later", null), false);
        }
    }

    /** The router's answer; never throws. */
    private ApiResponse answer(ApiRequest request) {
        long start = System.nanoTime();
        ApiResponse response;
        Exception failure = null;
        try {
            response = router.handle(request);
            if (response == null) {
                throw new IllegalStateException("the handler of " + request.method() + " " + request.path()
                        + " returned no response");
            }
        } catch (Exception e) {
            failure = e;
            String message = e.getMessage() != null ? e.getMessage() : e.toString();
            response = ApiErrors.forPath(request.path(), request.body(), 500, ApiErrors.CNI_GENERIC, message, null);
        }
        logRequest(request, response.status(), (System.nanoTime() - start) / 1_000_000, failure);
        return response;
    }

    private static void logRequest(ApiRequest request, int status, long ms, Exception failure) {
        PeerCredentials peer = request.peer();
        if (CniRoute.PATH.equals(request.path())) {
            String line = "event=cni_request command={} container={} ifname={} status={} ms={} uid={} pid={}";
            Object[] args = {request.header("CNI-Command").orElse("-"), request.header("CNI-ContainerID").orElse("-"),
                    request.header("CNI-IfName").orElse("-"), status, ms, peer.uid(), peer.pid(), failure};
            if (failure != null) {
                log.warn(line, args);
            } else {
                log.info(line, args);
            }
            return;
        }
        String line = "event=api_request method={} path={} status={} ms={} uid={} pid={}";
        Object[] args = {request.method(), request.path(), status, ms, peer.uid(), peer.pid(), failure};
        if (failure != null) {
            log.warn(line, args);
        } else {
            log.debug(line, args);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.warn("event=connection_failed error=\"{}\"", cause.toString());
        ctx.close();
    }
}
