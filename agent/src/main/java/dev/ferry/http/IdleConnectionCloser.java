package dev.ferry.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;

import java.util.concurrent.TimeUnit;

/**
 * Closes a connection that an {@link IdleStateHandler} reports idle, unless a
 * request on it is still being answered: a CNI ADD may wait 30 s for its
 * container's lock and a scrape may wait for the renderer, and neither reads nor
 * writes meanwhile. Sits right after the HTTP codec, where it sees each request
 * come in and each response's last part go out. One per connection.
 */
public final class IdleConnectionCloser extends ChannelDuplexHandler {
    /** Requests read and not yet answered; touched on the channel's event loop only. */
    private int outstanding;
    private boolean responseUnderway;

    /** The idle detector to put before the codec: idle means neither read nor write for {@code limits.idleTimeout()}. */
    public static IdleStateHandler detector(ConnectionLimits limits) {
        return new IdleStateHandler(0, 0, limits.idleTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof HttpRequest) {
            outstanding++;
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof HttpResponse response) {
            // 100 Continue is not the answer; the final response follows it.
            responseUnderway = response.status().codeClass() != HttpStatusClass.INFORMATIONAL
                    || response.status().equals(HttpResponseStatus.SWITCHING_PROTOCOLS);
        }
        if (msg instanceof LastHttpContent && responseUnderway && outstanding > 0) {
            outstanding--;
            responseUnderway = false;
        }
        super.write(ctx, msg, promise);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent && outstanding == 0) {
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, evt);
    }
}
