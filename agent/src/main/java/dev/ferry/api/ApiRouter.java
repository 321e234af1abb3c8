package dev.ferry.api;

/**
 * Answers the agent socket's requests. Called on the handler executor, never on a
 * Netty event loop, so it may block on netlink and BPF work. An exception becomes
 * a 500 (a CNI error object with code 999 on {@code /v1/cni}).
 */
@FunctionalInterface
public interface ApiRouter {
    ApiResponse handle(ApiRequest request) throws Exception;
}
