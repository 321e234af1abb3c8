package dev.ferry.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Closes a connection as soon as it is accepted when the server already holds
 * {@code max} open; the refusal is counted and reported. First in every pipeline
 * of one server, shared by all its channels.
 */
@ChannelHandler.Sharable
public final class ConnectionCap extends ChannelInboundHandlerAdapter {
    /** Told of each refused connection, on the refused channel's event loop. */
    @FunctionalInterface
    public interface Refusals {
        void refused(int open, int max);
    }

    private final int max;
    private final Refusals refusals;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong refused = new AtomicLong();

    public ConnectionCap(int max, Refusals refusals) {
        this.max = max;
        this.refusals = refusals;
    }

    /** Connections accepted and not yet closed, refused ones included until their close completes. */
    public int open() {
        return open.get();
    }

    /** Connections closed at accept because the server held its maximum. */
    public long refused() {
        return refused.get();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        // Every accepted channel counts up here and down in channelInactive, refused or not, so the count never drifts.
        int now = open.incrementAndGet();
        if (now > max) {
            refused.incrementAndGet();
            refusals.refused(now - 1, max);
            ctx.close();
            return;
        }
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        open.decrementAndGet();
        super.channelInactive(ctx);
    }
}
