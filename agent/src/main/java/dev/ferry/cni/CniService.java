package dev.ferry.cni;

import dev.ferry.api.ApiRequest;
import dev.ferry.api.ApiResponse;
import dev.ferry.endpoint.EndpointManager;

/** CONTRACT STUB: being implemented on main; signatures are fixed. */
public final class CniService {
    public CniService(EndpointManager endpoints, Readiness readiness) {
        throw new UnsupportedOperationException("stub");
    }

    /** Runs one CNI command; never throws for bad input (the error is the reply). */
    public CniReply handle(CniRequest request) {
        throw new UnsupportedOperationException("stub");
    }

    /** {@code POST /v1/cni}: headers and body to a reply, with the HTTP status ferry-cni expects (2xx result, 4xx/5xx error). */
    public ApiResponse handle(ApiRequest request) {
        throw new UnsupportedOperationException("stub");
    }
}
