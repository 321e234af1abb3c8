package dev.ferry.testing;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Marks a test class that needs root, bpffs and a BPF-capable kernel. Such a
 * test fails (never skips) with the reason when it cannot run: CI must not pass
 * on tests that did not execute.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RequiresRoot.Check.class)
public @interface RequiresRoot {

    final class Check implements BeforeAllCallback {
        @Override
        public void beforeAll(ExtensionContext context) throws IOException {
            String uid = Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:"))
                    .map(l -> l.split("\\s+")[2])
                    .findFirst().orElse("?");
            if (!uid.equals("0")) {
                throw new IllegalStateException(context.getDisplayName()
                        + " needs root (effective uid is " + uid + "): it creates network namespaces,"
                        + " veth pairs and BPF programs. Run the test command as root.");
            }
            if (!Files.isDirectory(Path.of("/sys/fs/bpf"))) {
                throw new IllegalStateException(context.getDisplayName()
                        + " needs bpffs mounted on /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)");
            }
        }
    }
}
