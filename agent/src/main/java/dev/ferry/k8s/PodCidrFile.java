package dev.ferry.k8s;

import dev.ferry.linux.AtomicFile;

import dev.ferry.net.IpPrefix;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The last pod CIDRs the Node gave (one per line, IPv4 first; an agent before
 * dual stack wrote one line, which reads the same), kept under the state
 * directory: after a restart during an API outage, IPAM and CNI DEL work at
 * once from them. Replaced whole ({@link AtomicFile}), so a crash leaves the
 * old or the new one.
 */
record PodCidrFile(Path file) {
    static PodCidrFile in(Path stateDir) {
        return new PodCidrFile(stateDir.resolve("pod-cidr"));
    }

    Optional<List<IpPrefix>> read() {
        try {
            List<IpPrefix> cidrs = Files.readString(file, StandardCharsets.UTF_8).lines().map(String::strip)
                    .filter(l -> !l.isEmpty()).map(IpPrefix::parse).toList();
            return cidrs.isEmpty() ? Optional.empty() : Optional.of(cidrs);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("failed to read '" + file + "': " + e.getMessage(), e);
        }
    }

    void write(List<IpPrefix> cidrs) {
        try {
            Files.createDirectories(file.getParent(), AtomicFile.ROOT_ONLY_DIRECTORY);
            AtomicFile.replace(file, cidrs.stream().map(c -> c + "\n").collect(Collectors.joining()).getBytes(StandardCharsets.UTF_8), AtomicFile.ROOT_ONLY);
        } catch (IOException e) {
            throw new UncheckedIOException("failed to write '" + file + "': " + e.getMessage(), e);
        }
    }
}
