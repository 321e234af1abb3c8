package dev.ferry.api;

import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.AttributeKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Admits at most {@code max} requests in flight across all connections of one
 * server; the next one is answered 503 at once (on {@code /v1/cni} a CNI error with
 * code 11, which tells the runtime to retry). Shared by all channels of a server.
 *
 * <p>Each admitted request holds a {@link Slot} that the business handler closes
 * when the request's work ends, whatever becomes of the connection. Freeing it
 * when the response passed on its way out was not enough: a runtime that kills
 * ferry-cni on timeout closes the connection first, the pipeline is gone by the
 * time the answer is written, and the slot was never given back (40-odd killed
 * clients wedged the socket for good).
 */
@ChannelHandler.Sharable
final class ConcurrencyLimiter extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ConcurrencyLimiter.class);
    /** Slots of this connection's admitted requests, oldest first; touched on its event loop only. */
    private static final AttributeKey<Deque<Slot>> ADMITTED = AttributeKey.valueOf("ferry.admitted");

    private final int max;
    private final AtomicInteger inFlight = new AtomicInteger();
    /** When a slot was last given back (or the limiter made): a full limiter that long without one is stuck. */
    private volatile long lastReleaseNanos = System.nanoTime();

    ConcurrencyLimiter(int max) {
        this.max = max;
    }

    /** One admitted request's claim on the limit; closing it more than once frees it once. */
    final class Slot implements AutoCloseable {
        private final AtomicBoolean released = new AtomicBoolean();

        @Override
        public void close() {
            if (released.compareAndSet(false, true)) {
                lastReleaseNanos = System.nanoTime();
                inFlight.decrementAndGet();
            }
        }
    }

    int inFlight() {
        return inFlight.get();
    }

    /**
     * Why no request can get in, when every slot has been taken for longer than
     * {@code limit} without one coming back: the requests in flight hang, and only
     * a restart frees the socket. Empty while requests still finish.
     */
    Optional<String> stuck(Duration limit) {
        long idle = System.nanoTime() - lastReleaseNanos;
        if (inFlight.get() < max || idle < limit.toNanos()) {
            return Optional.empty();
        }
        return Optional.of("all " + max + " request slots of the agent socket have been busy for "
                + Duration.ofNanos(idle).toSeconds() + " s without one finishing");
    }

    /** The slot of the request the limiter admitted last on this connection and no handler took yet. */
    static Slot take(Channel channel) {
        Deque<Slot> admitted = channel.attr(ADMITTED).get();
        Slot slot = admitted == null ? null : admitted.pollFirst();
        if (slot == null) {
            throw new IllegalStateException("a request reached the handler without passing the limiter");
        }
        return slot;
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
        ctx.channel().attr(ADMITTED).setIfAbsent(new ArrayDeque<>());
        ctx.channel().attr(ADMITTED).get().addLast(new Slot());
        ctx.fireChannelRead(msg);
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
