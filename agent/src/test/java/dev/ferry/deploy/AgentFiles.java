package dev.ferry.deploy;

import dev.ferry.agent.AgentConfig;
import dev.ferry.agent.AgentConfigLoader;
import io.fabric8.kubernetes.api.model.ConfigMap;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * The agent's own code applied to what the ConfigMap holds: its configuration
 * loader and the conflist it writes ({@code CniConfList}, package-private, so
 * reached by reflection rather than copied).
 */
final class AgentFiles {
    static final String AGENT_YAML = "agent.yaml";
    static final String CONFLIST = "05-ferry.conflist";
    /**
     * Keys the main branch is adding to the loader (log levels). Until this
     * branch's loader knows them they are taken out before loading, and only
     * then; once it does, they are loaded like every other key.
     */
    private static final Set<String> KEYS_BEING_ADDED = Set.of("logLevel", "logLevels");

    private AgentFiles() {}

    /** Loads the ConfigMap's agent.yaml with {@link AgentConfigLoader#load}, from a file in {@code dir}. */
    static AgentConfig load(ConfigMap configMap, Path dir) {
        String yaml = configMap.getData().get(AGENT_YAML);
        Set<String> known = loaderKeys();
        StringBuilder kept = new StringBuilder();
        for (String line : yaml.split("\n", -1)) {
            String key = line.contains(":") ? line.substring(0, line.indexOf(':')).strip() : "";
            if (!(KEYS_BEING_ADDED.contains(key) && !known.contains(key) && !line.startsWith(" "))) {
                kept.append(line).append('\n');
            }
        }
        try {
            Path file = dir.resolve(AGENT_YAML);
            Files.writeString(file, kept);
            return AgentConfigLoader.load(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What CniConfList writes for this socket and spool directory. */
    static String conflist(Path socket, Path spoolDir) {
        try {
            Class<?> c = Class.forName("dev.ferry.agent.CniConfList");
            Method render = c.getDeclaredMethod("render", Path.class, Path.class);
            render.setAccessible(true);
            return (String) render.invoke(null, socket, spoolDir);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("dev.ferry.agent.CniConfList.render(Path, Path) is gone: " + e, e);
        }
    }

    @SuppressWarnings("unchecked")
    private static Set<String> loaderKeys() {
        try {
            Field f = AgentConfigLoader.class.getDeclaredField("KEYS");
            f.setAccessible(true);
            return (Set<String>) f.get(null);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("AgentConfigLoader.KEYS is gone: " + e, e);
        }
    }
}
