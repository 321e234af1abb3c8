package dev.ferry.api;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The simple {@link ApiRouter}: (method, path pattern) to handler, where a pattern
 * segment {@code {name}} matches one path segment and is handed to the handler.
 * A path no pattern matches is a 404, a path matched only under other methods a 405.
 *
 * <pre>{@code
 * ApiRouter router = Routes.builder()
 *         .get("/v1/endpoints/{id}", (request, vars) -> endpoints.show(vars.get("id")))
 *         .post(CniRoute.PATH, new CniRoute(cni))
 *         .build();
 * }</pre>
 */
public final class Routes implements ApiRouter {

    /** A route's handler; {@code vars} holds the values of the pattern's {@code {name}} segments. */
    @FunctionalInterface
    public interface Handler {
        ApiResponse handle(ApiRequest request, Map<String, String> vars) throws Exception;
    }

    private record Route(String method, List<String> segments, Handler handler) {
        Optional<Map<String, String>> match(List<String> path) {
            if (path.size() != segments.size()) {
                return Optional.empty();
            }
            Map<String, String> vars = new LinkedHashMap<>();
            for (int i = 0; i < segments.size(); i++) {
                String segment = segments.get(i);
                if (segment.startsWith("{") && segment.endsWith("}")) {
                    if (path.get(i).isEmpty()) {
                        return Optional.empty();
                    }
                    vars.put(segment.substring(1, segment.length() - 1), path.get(i));
                } else if (!segment.equals(path.get(i))) {
                    return Optional.empty();
                }
            }
            return Optional.of(vars);
        }
    }

    private final List<Route> routes;

    private Routes(List<Route> routes) {
        this.routes = List.copyOf(routes);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ApiResponse handle(ApiRequest request) throws Exception {
        List<String> path = segments(request.path());
        Set<String> allowed = new LinkedHashSet<>();
        for (Route route : routes) {
            Optional<Map<String, String>> vars = route.match(path);
            if (vars.isEmpty()) {
                continue;
            }
            if (route.method().equals(request.method())) {
                return route.handler().handle(request, vars.get());
            }
            allowed.add(route.method());
        }
        if (!allowed.isEmpty()) {
            return ApiErrors.error(405, "method " + request.method() + " is not allowed on " + request.path()
                    + " (allowed: " + String.join(", ", allowed) + ")");
        }
        return ApiErrors.error(404, "no such resource: " + request.path());
    }

    private static List<String> segments(String path) {
        String trimmed = path.startsWith("/") ? path.substring(1) : path;
        return List.of(trimmed.split("/", -1));
    }

    public static final class Builder {
        private final List<Route> routes = new ArrayList<>();

        private Builder() {}

        public Builder get(String pattern, Handler handler) {
            return route("GET", pattern, handler);
        }

        public Builder post(String pattern, Handler handler) {
            return route("POST", pattern, handler);
        }

        public Builder route(String method, String pattern, Handler handler) {
            if (!pattern.startsWith("/")) {
                throw new IllegalArgumentException("a route pattern starts with '/': " + pattern);
            }
            routes.add(new Route(method, segments(pattern), handler));
            return this;
        }

        public Routes build() {
            return new Routes(routes);
        }
    }
}
