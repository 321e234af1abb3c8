package dev.ferry.api;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.QueryStringDecoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Netty's aggregator, with a 413 that says why in the socket's error shapes (Netty's
 * own has an empty body, which ferry-cni would report as an invalid answer). The
 * connection is closed after it: the rest of the body is never read.
 */
final class BoundedAggregator extends HttpObjectAggregator {
    private static final Logger log = LoggerFactory.getLogger(BoundedAggregator.class);

    private final int maxBodyBytes;

    BoundedAggregator(int maxBodyBytes) {
        super(maxBodyBytes);
        this.maxBodyBytes = maxBodyBytes;
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
        String path = oversized instanceof HttpRequest request ? new QueryStringDecoder(request.uri()).path() : "-";
        log.warn("event=request_refused reason=too_large path={} max_body_bytes={}", path, maxBodyBytes);
        ApiResponse tooLarge = ApiErrors.forPath(path, new byte[0], 413, ApiErrors.CNI_INVALID_CONFIG,
                "request body too large", "the agent accepts at most " + maxBodyBytes + " bytes");
        HttpResponses.write(ctx, tooLarge, false);
    }
}
