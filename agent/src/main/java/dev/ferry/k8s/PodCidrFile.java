package dev.ferry.k8s;

import dev.ferry.linux.AtomicFile;

import dev.ferry.net.IpPrefix;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The last pod CIDR the Node gave, kept under the state directory: after a
 * restart during an API outage, IPAM and CNI DEL work at once from it.
 * Replaced whole ({@link AtomicFile}), so a crash leaves the old or the new one.
 */
record PodCidrFile(Path file) {
    static PodCidrFile in(Path stateDir) {
        return new PodCidrFile(stateDir.resolve("pod-cidr"));
    }

    Optional<IpPrefix> read() {
        try {
            return Optional.of(IpPrefix.parse(Files.readString(file, StandardCharsets.UTF_8).strip()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("failed to read '" + file + "': " + e.getMessage(), e);
        }
    }

    void write(IpPrefix cidr) {
        try {
            Files.createDirectories(file.getParent(), AtomicFile.ROOT_ONLY_DIRECTORY);
            AtomicFile.replace(file, (cidr + "\n").getBytes(StandardCharsets.UTF_8), AtomicFile.ROOT_ONLY);
        } catch (IOException e) {
            throw new UncheckedIOException("failed to write '" + file + "': " + e.getMessage(), e);
        }
    }
}
