package dev.ferry.api;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/** Writes an {@link ApiResponse} that carries an {@link ApiStream}: the head, then chunks until either side ends it. */
final class HttpStreams {
    private static final Logger log = LoggerFactory.getLogger(HttpStreams.class);

    private HttpStreams() {}

    /** Writes the head and starts the stream; the connection closes when the stream ends. */
    static void start(ChannelHandlerContext ctx, ApiResponse response) {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(response.status()));
        head.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, response.contentType())
                .set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED)
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        response.stream().headers().forEach(head.headers()::set);
        ctx.writeAndFlush(head).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        Sink sink = new Sink(ctx);
        ctx.channel().closeFuture().addListener(f -> sink.ended());
        try {
            response.stream().start(sink);
        } catch (RuntimeException e) {
            log.warn("event=stream_failed error=\"{}\"", e.toString());
            sink.end();
        }
    }

    private static final class Sink implements ApiStream.StreamSink {
        private final ChannelHandlerContext ctx;
        private final Channel channel;
        private final List<Runnable> onEnd = new ArrayList<>();
        private boolean ended; // guarded by this

        Sink(ChannelHandlerContext ctx) {
            this.ctx = ctx;
            this.channel = ctx.channel();
        }

        @Override
        public boolean offer(byte[] chunk) {
            // isWritable turns false once the unflushed bytes pass the high water mark (64 KiB).
            if (!channel.isActive() || !channel.isWritable()) {
                return false;
            }
            ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(chunk)))
                    .addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
            return true;
        }

        @Override
        public void end() {
            ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(ChannelFutureListener.CLOSE);
            ended();
        }

        @Override
        public void onEnd(Runnable action) {
            boolean now;
            synchronized (this) {
                now = ended;
                if (!now) {
                    onEnd.add(action);
                }
            }
            if (now) {
                action.run();
            }
        }

        void ended() {
            List<Runnable> actions;
            synchronized (this) {
                if (ended) {
                    return;
                }
                ended = true;
                actions = List.copyOf(onEnd);
                onEnd.clear();
            }
            for (Runnable action : actions) {
                try {
                    action.run();
                } catch (RuntimeException e) {
                    log.warn("event=stream_end_action_failed error=\"{}\"", e.toString());
                }
            }
        }
    }
}
