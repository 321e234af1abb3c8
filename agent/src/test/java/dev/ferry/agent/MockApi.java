package dev.ferry.agent;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;

import dev.ferry.testing.CrdSchema;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.regex.Pattern;

/**
 * fabric8's mock API server in CRUD mode (it stores what is created and serves
 * list and watch from it) on a fixed local port, plus a kubeconfig naming it, so
 * an agent under test talks to it as to a real API server. {@link #restart} makes
 * a new, empty server on the same port: an API server coming back from an outage.
 */
final class MockApi implements AutoCloseable {
    private int port;
    private KubernetesMockServer server;
    private KubernetesClient client;

    /** False: Ferry's CRDs are not installed, and their paths answer 404 as a real server's would. */
    private volatile boolean crdsInstalled = true;

    /** Every request the server was sent, in order, across restarts. */
    private final List<Request> requests = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** One request: its method, path with query, and Authorization header (null without one). */
    record Request(String method, String path, String authorization) {}

    private MockApi(int port) {
        this.port = port;
        boot();
    }

    /** On a free port the server picks. */
    static MockApi start() {
        return new MockApi(0);
    }

    private void boot() {
        server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new Dispatcher(List.of(EGRESS_ROUTES, TRAFFIC_MIRRORS), requests, () -> crdsInstalled), false);
        if (port == 0) {
            server.init();
            port = server.getPort();
        } else {
            server.init(InetAddress.getLoopbackAddress(), port);
        }
        client = server.createClient();
    }

    /** The EgressRoute CRD as deploy/crds/ installs it: the server stores only what its schema admits. */
    static final CrdSchema EGRESS_ROUTES = CrdSchema.load(CrdSchema.repoFile("deploy/crds/egressroutes.ferry.dev.yaml"));
    /** The TrafficMirror CRD, likewise. */
    static final CrdSchema TRAFFIC_MIRRORS = CrdSchema.load(CrdSchema.repoFile("deploy/crds/trafficmirrors.ferry.dev.yaml"));

    /**
     * The CRUD dispatcher with two corrections towards a real API server.
     * <ul>
     * <li>The CRUD mock indexes only metadata.name and metadata.namespace for field
     * selectors, and answers an empty list to {@code spec.nodeName=...}, where the
     * real API server answers this node's pods. Dropping the selector gives every
     * pod instead, a superset the agent filters by node again, so the agent's pod
     * cache holds what a real server would give it.</li>
     * <li>A custom resource's create and replace are validated against its CRD's
     * schema ({@link CrdSchema}) and refused with 422 Invalid as the API server does;
     * the CRUD mock would store anything.</li>
     * </ul>
     */
    private static final class Dispatcher extends KubernetesCrudDispatcher {
        private static final Pattern NODE_NAME_SELECTOR = Pattern.compile("fieldSelector=spec\\.nodeName%3D[^&]*&?");
        private final List<CrdSchema> schemas;
        private final List<Request> requests;
        private final java.util.function.BooleanSupplier installed;

        Dispatcher(List<CrdSchema> schemas, List<Request> requests, java.util.function.BooleanSupplier installed) {
            super(schemas.stream().map(s -> CustomResourceDefinitionContext.fromCrd(s.crd())).toList());
            this.schemas = schemas;
            this.requests = requests;
            this.installed = installed;
        }

        @Override
        public MockResponse handleCreate(RecordedRequest request) {
            RecordedRequest again = reread(request);
            return refusal(again).orElseGet(() -> super.handleCreate(reread(again)));
        }

        @Override
        public MockResponse handleUpdate(RecordedRequest request) {
            RecordedRequest again = reread(request);
            return refusal(again).orElseGet(() -> super.handleUpdate(reread(again)));
        }

        /** The same request with a body that can be read once more: reading a Buffer drains it. */
        private static RecordedRequest reread(RecordedRequest request) {
            byte[] body = request.getBody() == null ? new byte[0] : request.getBody().getBytes();
            return new RecordedRequest(request.getHttpVersion(), request.method(), request.getPath(), request.getHeaders(),
                    new Buffer(body));
        }

        private java.util.Optional<MockResponse> refusal(RecordedRequest request) {
            for (CrdSchema schema : schemas) {
                String prefix = "/apis/" + schema.crd().getSpec().getGroup() + "/";
                if (request.getPath() != null && request.getPath().startsWith(prefix)
                        && request.getPath().contains("/" + schema.crd().getSpec().getNames().getPlural())) {
                    List<String> errors = schema.validate(new String(request.getBody().getBytes(), java.nio.charset.StandardCharsets.UTF_8));
                    if (!errors.isEmpty()) {
                        Status status = new StatusBuilder().withStatus("Failure").withCode(422).withReason("Invalid")
                                .withMessage(schema.crd().getSpec().getNames().getKind() + " is invalid: "
                                        + String.join(", ", errors)).build();
                        return java.util.Optional.of(new MockResponse().setResponseCode(422)
                                .setBody(Serialization.asJson(status)));
                    }
                }
            }
            return java.util.Optional.empty();
        }

        @Override
        public MockResponse dispatch(RecordedRequest request) {
            requests.add(new Request(request.getMethod(), request.getPath(), request.getHeader("Authorization")));
            String path = request.getPath();
            if (!installed.getAsBoolean() && path != null && path.startsWith("/apis/ferry.dev/")) {
                Status status = new StatusBuilder().withStatus("Failure").withCode(404).withReason("NotFound")
                        .withMessage("the server could not find the requested resource").build();
                return new MockResponse().setResponseCode(404).setBody(Serialization.asJson(status));
            }
            if (path == null || !NODE_NAME_SELECTOR.matcher(path).find()) {
                return super.dispatch(request);
            }
            String unfiltered = NODE_NAME_SELECTOR.matcher(path).replaceAll("").replaceAll("[?&]$", "");
            return super.dispatch(new RecordedRequest(request.getHttpVersion(), request.method(), unfiltered,
                    request.getHeaders(), request.getBody()));
        }
    }

    /** Installs or removes Ferry's CRDs: without them their paths answer 404 (objects stored before stay, as in etcd). */
    void crdsInstalled(boolean installed) {
        crdsInstalled = installed;
    }

    /** The requests sent with the kubeconfig's token ({@link #writeKubeconfig}): the agent's, not the test's own client's. */
    List<Request> agentRequests() {
        return requests.stream().filter(r -> "Bearer test".equals(r.authorization())).toList();
    }

    /** The port it serves on (127.0.0.1). */
    int port() {
        return port;
    }

    /** The client the test changes objects with. */
    KubernetesClient client() {
        return client;
    }

    /** The outage: the server goes away, its objects with it. */
    void stop() {
        client.close();
        server.destroy();
    }

    /** A new, empty server on the same port. */
    void restart() {
        boot();
    }

    Path writeKubeconfig(Path dir) throws IOException {
        Path file = dir.resolve("kubeconfig");
        Files.writeString(file, """
                apiVersion: v1
                kind: Config
                clusters:
                - name: mock
                  cluster: {server: "http://127.0.0.1:%d"}
                contexts:
                - name: mock
                  context: {cluster: mock, user: mock, namespace: default}
                current-context: mock
                users:
                - name: mock
                  user: {token: test}
                """.formatted(port));
        return file;
    }

    Node createNode(String name, String podCidr, String internalIp) {
        return client.nodes().resource(node(name, podCidr, internalIp)).create();
    }

    static Node node(String name, String podCidr, String internalIp) {
        NodeBuilder b = new NodeBuilder().withNewMetadata().withName(name).endMetadata();
        if (podCidr != null) {
            b.withNewSpec().withPodCIDR(podCidr).withPodCIDRs(podCidr).endSpec();
        }
        if (internalIp != null) {
            b.withNewStatus().addNewAddress().withType("InternalIP").withAddress(internalIp).endAddress().endStatus();
        }
        return b.build();
    }

    Pod createPod(String namespace, String name, String nodeName) {
        return client.pods().inNamespace(namespace).resource(new PodBuilder()
                .withNewMetadata().withNamespace(namespace).withName(name).endMetadata()
                .withNewSpec().withNodeName(nodeName).addNewContainer().withName("c").withImage("pause").endContainer().endSpec()
                .build()).create();
    }

    @Override
    public void close() {
        stop();
    }
}
