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
 * {@code 05-ferry.conflist}, written into the CNI configuration directory
 * ({@code cniConfDir}) once the agent is ready ({@link ConfListWriter}). A runtime
 * picks the first conflist in name order, so writing it last keeps pods from being
 * sent to an agent that cannot serve them yet. It names this agent's socket and spool,
 * so ferry-cni and the agent always agree on both. Its {@code cniVersion} is the
 * configuration's: the runtime asks ADD for a result of that version and must be
 * able to read it (docs/install.md, "Runtimes and CNI versions").
 */
public final class CniConfList {
    static final String FILE_NAME = "05-ferry.conflist";
    static final String NETWORK_NAME = "ferry";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private CniConfList() {}

    public static String render(String cniVersion, Path socket, Path spoolDir) {
        ObjectNode list = JSON.createObjectNode().put("cniVersion", cniVersion).put("name", NETWORK_NAME);
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
    static Path write(AgentConfig config) {
        Path dir = config.cniConfDir();
        Path file = dir.resolve(FILE_NAME);
        try {
            Files.createDirectories(dir);
            AtomicFile.replace(file, render(config.cniVersion(), config.socket(), config.spoolDir()).getBytes(StandardCharsets.UTF_8), AtomicFile.WORLD_READABLE);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("failed to write the CNI configuration '" + file + "': " + e.getMessage(), e);
        }
    }
}
