package dev.ferry.api;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

/** Writes an {@link ApiResponse} as HTTP/1.1 with a Content-Length, closing after it unless kept alive. */
final class HttpResponses {
    private static final Logger log = LoggerFactory.getLogger(HttpResponses.class);
    private static final AtomicInteger STREAMS = new AtomicInteger();

    private HttpResponses() {}

    static FullHttpResponse toHttp(ApiResponse response, boolean keepAlive) {
        FullHttpResponse http = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(response.status()), Unpooled.wrappedBuffer(response.body()));
        http.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, response.contentType())
                .setInt(HttpHeaderNames.CONTENT_LENGTH, http.content().readableBytes())
                .set(HttpHeaderNames.CONNECTION, keepAlive ? HttpHeaderValues.KEEP_ALIVE : HttpHeaderValues.CLOSE);
        return http;
    }

    /** Writes from {@code ctx} towards the socket; safe to call from any thread. */
    static void write(ChannelHandlerContext ctx, ApiResponse response, boolean keepAlive) {
        var future = ctx.writeAndFlush(toHttp(response, keepAlive));
        future.addListener(keepAlive ? ChannelFutureListener.CLOSE_ON_FAILURE : ChannelFutureListener.CLOSE);
    }

    /**
     * Writes the head of a streamed response and runs its {@link ApiStream} on a
     * thread of its own (platform, not virtual: it inherits the calling thread's
     * network namespace, and blocks in recvfrom). The response ends, and the
     * connection closes, when the stream returns.
     */
    static void stream(ChannelHandlerContext ctx, ApiResponse response) {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(response.status()));
        head.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, response.contentType())
                .set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED)
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        response.stream().headers().forEach(head.headers()::set);
        ctx.writeAndFlush(head).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        Channel channel = ctx.channel();
        ApiStream.Sink sink = new ApiStream.Sink() {
            @Override
            public boolean write(byte[] bytes) {
                if (!channel.isActive()) {
                    return false;
                }
                ChannelFuture written = ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(bytes)));
                // A slow reader: wait for its socket to drain rather than queue without bound.
                while (!channel.isWritable() && channel.isActive()) {
                    written.awaitUninterruptibly(100, TimeUnit.MILLISECONDS);
                }
                return channel.isActive();
            }

            @Override
            public boolean open() {
                return channel.isActive();
            }
        };
        Thread.ofPlatform().daemon().name("ferry-stream-" + STREAMS.incrementAndGet()).start(() -> {
            try {
                response.stream().run(sink);
            } catch (Exception | Error e) {
                log.warn("event=stream_failed error=\"{}\"", e.toString());
            } finally {
                ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(ChannelFutureListener.CLOSE);
            }
        });
    }
}
