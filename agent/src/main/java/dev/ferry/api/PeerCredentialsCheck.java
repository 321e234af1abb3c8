package dev.ferry.api;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * The first stage of the pipeline: admits a connection only when the peer's uid
 * (SO_PEERCRED) is allowed, and records the credentials for the request handler.
 * A refused peer gets a 403 to the first bytes it sends and the connection is
 * closed, nothing it sent decoded; the answer is encoded here because the HTTP
 * codec sits behind this stage. One that never sends is closed when idle.
 */
@ChannelHandler.Sharable
final class PeerCredentialsCheck extends ChannelInboundHandlerAdapter {
    static final AttributeKey<PeerCredentials> PEER = AttributeKey.valueOf("ferry.peer");
    /** The refusal a refused peer is answered with when it sends its request; null once answered. */
    private static final AttributeKey<String> REFUSED = AttributeKey.valueOf("ferry.peer.refused");

    private static final Logger log = LoggerFactory.getLogger(PeerCredentialsCheck.class);

    private final Set<Integer> allowedUids;

    PeerCredentialsCheck(Set<Integer> allowedUids) {
        this.allowedUids = Set.copyOf(allowedUids);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws IOException {
        io.netty.channel.unix.PeerCredentials raw = ((EpollDomainSocketChannel) ctx.channel()).peerCredentials();
        int[] gids = raw.gids();
        PeerCredentials peer = new PeerCredentials(raw.pid(), raw.uid(), gids.length > 0 ? gids[0] : -1);
        if (!allowedUids.contains(peer.uid())) {
            log.warn("event=peer_refused uid={} pid={} allowed_uids={}", peer.uid(), peer.pid(), allowedUids);
            // Answered once it speaks: a 403 written and the connection closed at accept reached a client
            // still sending its request as a broken pipe or a failed connect (curl exit 7), not as a 403.
            ctx.channel().attr(REFUSED).set("permission denied: uid " + peer.uid() + " may not use the ferry agent socket");
            return;
        }
        log.debug("event=peer_accepted uid={} pid={}", peer.uid(), peer.pid());
        ctx.channel().attr(PEER).set(peer);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (ctx.channel().attr(PEER).get() == null) {
            ReferenceCountUtil.release(msg); // a refused peer's bytes are never decoded
            String refusal = ctx.channel().attr(REFUSED).getAndSet(null);
            if (refusal != null) {
                ctx.writeAndFlush(forbidden(refusal)).addListener(ChannelFutureListener.CLOSE);
            }
            return;
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.warn("event=peer_check_failed error=\"{}\"", cause.toString());
        ctx.close();
    }

    /**
     * A 403 whose body serves both clients: ferry-cni prints it as a CNI error object
     * (it needs {@code code}), the CLI reads {@code error}. The request is not read, so
     * no path decides between the two shapes.
     */
    private static ByteBuf forbidden(String message) {
        byte[] content = ApiErrors.forAnyClient(403, ApiErrors.CNI_GENERIC, message).body();
        String head = "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: "
                + content.length + "\r\nConnection: close\r\n\r\n";
        return Unpooled.wrappedBuffer(head.getBytes(StandardCharsets.US_ASCII), content);
    }
}
