package dev.ferry.deploy;

import dev.ferry.agent.AgentConfig;
import dev.ferry.agent.AgentConfigLoader;
import io.fabric8.kubernetes.api.model.ConfigMap;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The agent's own code applied to what the ConfigMap holds: its configuration loader. */
final class AgentFiles {
    static final String AGENT_YAML = "agent.yaml";
    static final String CONFLIST = "05-ferry.conflist";

    private AgentFiles() {}

    /** Loads the ConfigMap's agent.yaml with {@link AgentConfigLoader#load}, from a file in {@code dir}. */
    static AgentConfig load(ConfigMap configMap, Path dir) {
        try {
            Path file = dir.resolve(AGENT_YAML);
            Files.writeString(file, configMap.getData().get(AGENT_YAML));
            return AgentConfigLoader.load(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
