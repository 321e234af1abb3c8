package dev.ferry.agent;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.linux.AtomicFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code 05-ferry.conflist}, written into the CNI configuration directory once the
 * agent is ready (DESIGN "Agent configuration": cniConfDir). A runtime picks the
 * first conflist in name order, so writing it last keeps pods from being sent
 * to an agent that cannot serve them yet. It names this agent's socket and spool,
 * so ferry-cni and the agent always agree on both.
 */
public final class CniConfList {
    static final String FILE_NAME = "05-ferry.conflist";
    static final String NETWORK_NAME = "ferry";
    static final String CNI_VERSION = "1.1.0";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private CniConfList() {}

    public static String render(Path socket, Path spoolDir) {
        ObjectNode list = JSON.createObjectNode().put("cniVersion", CNI_VERSION).put("name", NETWORK_NAME);
        list.putArray("plugins").addObject()
                .put("type", "ferry-cni")
                .put("agentSocket", socket.toString())
                .put("spoolDir", spoolDir.toString());
        try {
            return JSON.writeValueAsString(list) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes the file whole or not at all (a runtime may read the directory at any moment); returns its path. */
    static Path write(Path dir, Path socket, Path spoolDir) {
        Path file = dir.resolve(FILE_NAME);
        try {
            Files.createDirectories(dir);
            AtomicFile.replace(file, render(socket, spoolDir).getBytes(StandardCharsets.UTF_8), AtomicFile.WORLD_READABLE);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("failed to write the CNI configuration '" + file + "': " + e.getMessage(), e);
        }
    }
}
