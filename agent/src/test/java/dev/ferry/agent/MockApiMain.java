package dev.ferry.agent;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;

/**
 * {@link MockApi} as a process, for the fault campaign (bench/faults/kube.py), which
 * runs the real dist/bin/ferry-agent in kubernetes mode against it:
 *
 * <pre>java -cp TEST_CLASSPATH dev.ferry.agent.MockApiMain DIR</pre>
 *
 * Writes {@code DIR/kubeconfig}, prints {@code ready PORT} and serves until its stdin
 * closes (the driver that started it is gone, however it went) or it is
 * signalled. Objects are created over plain HTTP: the CRUD mode stores what is
 * POSTed and serves list and watch from it.
 */
public final class MockApiMain {
    private MockApiMain() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: MockApiMain DIR (writes DIR/kubeconfig)");
            System.exit(2);
        }
        MockApi api = MockApi.start();
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(api::close));
        api.writeKubeconfig(Path.of(args[0]));
        System.out.println("ready " + api.port());
        System.out.flush();
        InputStream in = System.in;
        while (in.read() >= 0) {
            // Nothing is read from stdin; its end is the signal to stop.
        }
        System.exit(0);
    }
}
