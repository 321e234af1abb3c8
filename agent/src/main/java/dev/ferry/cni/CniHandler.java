package dev.ferry.cni;

/**
 * Runs one CNI command: a validated request in, a reply out (a result, the
 * VERSION answer or a CNI error object). Never throws for bad input: the error is
 * the reply. The socket's {@code POST /v1/cni} and the DEL spool's replay call it.
 */
@FunctionalInterface
public interface CniHandler {
    CniReply handle(CniRequest request);
}
