package dev.ferry.api;

import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.AttributeKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Admits at most {@code max} requests in flight across all connections of one
 * server; the next one is answered 503 at once (on {@code /v1/cni} a CNI error with
 * code 11, which tells the runtime to retry). A request stops being in flight when
 * its response passes back through this handler. Shared by all channels of a server.
 */
@ChannelHandler.Sharable
final class ConcurrencyLimiter extends ChannelDuplexHandler {
    private static final Logger log = LoggerFactory.getLogger(ConcurrencyLimiter.class);
    private static final AttributeKey<AtomicInteger> ADMITTED = AttributeKey.valueOf("ferry.admitted");

    private final int max;
    private final AtomicInteger inFlight = new AtomicInteger();

    ConcurrencyLimiter(int max) {
        this.max = max;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof FullHttpRequest request)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (inFlight.incrementAndGet() > max) {
            inFlight.decrementAndGet();
            try {
                refuse(ctx, request);
            } finally {
                request.release();
            }
            return;
        }
        ctx.channel().attr(ADMITTED).setIfAbsent(new AtomicInteger());
        ctx.channel().attr(ADMITTED).get().incrementAndGet();
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        AtomicInteger admitted = ctx.channel().attr(ADMITTED).get();
        if (msg instanceof LastHttpContent && admitted != null && admitted.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            inFlight.decrementAndGet();
        }
        ctx.write(msg, promise);
    }

    private void refuse(ChannelHandlerContext ctx, FullHttpRequest request) {
        String path = new QueryStringDecoder(request.uri()).path();
        log.warn("event=request_refused reason=busy method={} path={} in_flight_max={}", request.method(), path, max);
        ApiResponse busy = ApiErrors.forPath(path, ByteBufUtil.getBytes(request.content()), 503,
                ApiErrors.CNI_TRY_AGAIN_LATER, "ferry agent is busy, try again later",
                max + " requests are in flight");
        HttpResponses.write(ctx, busy, HttpUtil.isKeepAlive(request));
    }
}
