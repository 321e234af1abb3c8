package dev.ferry.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the real {@code ferry-cni} executable the way a container runtime does: a
 * clean environment holding only the variables given, the network configuration on
 * stdin, the answer on stdout and the exit status.
 */
public final class FerryCni {
    public static final Path BINARY = Path.of(System.getProperty("ferry.cni.binary", "../cni-plugin/target/ferry-cni"));

    /** What a run of the plugin is allowed to take before the test gives up on it. */
    private static final Duration RUN_LIMIT = Duration.ofSeconds(30);

    private final Map<String, String> env = new LinkedHashMap<>();
    private byte[] stdin = new byte[0];

    private FerryCni() {}

    /** An invocation with only {@code CNI_COMMAND} set. */
    public static FerryCni command(String command) {
        return new FerryCni().env("CNI_COMMAND", command);
    }

    /** An invocation carrying every CNI variable a runtime sets for an attachment (ADD, CHECK, DEL). */
    public static FerryCni attachment(String command) {
        return command(command)
                .env("CNI_CONTAINERID", "3f6940ab5ab43bc522569d15b23f8c1b")
                .env("CNI_NETNS", "/var/run/netns/cni-1234")
                .env("CNI_IFNAME", "eth0")
                .env("CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0")
                .env("CNI_PATH", "/opt/cni/bin");
    }

    public FerryCni env(String name, String value) {
        env.put(name, value);
        return this;
    }

    public FerryCni without(String name) {
        env.remove(name);
        return this;
    }

    public FerryCni stdin(String configuration) {
        return stdin(configuration.getBytes(StandardCharsets.UTF_8));
    }

    public FerryCni stdin(byte[] configuration) {
        stdin = configuration.clone();
        return this;
    }

    public Result run() {
        if (!Files.isExecutable(BINARY)) {
            throw new IllegalStateException("ferry-cni is not built at " + BINARY.toAbsolutePath()
                    + " (the cni-plugin module builds it; run the reactor build)");
        }
        ProcessBuilder pb = new ProcessBuilder(BINARY.toAbsolutePath().toString());
        pb.environment().clear();
        pb.environment().putAll(env);
        long start = System.nanoTime();
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + BINARY, e);
        }
        CompletableFuture<Void> feeder = CompletableFuture.runAsync(() -> feed(process.getOutputStream()));
        CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> drain(process.getInputStream()));
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> drain(process.getErrorStream()));
        try {
            if (!process.waitFor(RUN_LIMIT.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("ferry-cni did not exit within " + RUN_LIMIT);
            }
            Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
            feeder.get();
            return new Result(process.exitValue(), new String(out.get(), StandardCharsets.UTF_8),
                    new String(err.get(), StandardCharsets.UTF_8), elapsed);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot talk to ferry-cni", e.getCause());
        } finally {
            process.destroyForcibly();
        }
    }

    private void feed(OutputStream in) {
        try (in) {
            in.write(stdin);
        } catch (IOException e) {
            // The plugin may exit before reading everything (oversized input); its answer says why.
        }
    }

    private static byte[] drain(InputStream stream) {
        try (stream) {
            return stream.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What the plugin answered. The accessors read the compact error objects ferry-cni itself prints. */
    public record Result(int exitCode, String stdout, String stderr, Duration elapsed) {
        public int code() {
            return Integer.parseInt(member("code", "(\\d+)"));
        }

        public String msg() {
            return member("msg", "\"((?:[^\"\\\\]|\\\\.)*)\"");
        }

        public String details() {
            return member("details", "\"((?:[^\"\\\\]|\\\\.)*)\"");
        }

        public String cniVersion() {
            return member("cniVersion", "\"((?:[^\"\\\\]|\\\\.)*)\"");
        }

        private String member(String name, String valuePattern) {
            Matcher m = Pattern.compile("\"" + name + "\":" + valuePattern).matcher(stdout);
            if (!m.find()) {
                throw new AssertionError("no \"" + name + "\" in the plugin's output: " + this);
            }
            return m.group(1);
        }
    }

    /** A JSON string literal for building configurations in tests. */
    public static String quote(Object value) {
        return "\"" + value.toString().replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
