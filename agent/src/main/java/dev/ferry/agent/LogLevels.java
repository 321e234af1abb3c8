package dev.ferry.agent;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import org.slf4j.LoggerFactory;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The log level of each package, from the config's {@code logLevel} (Ferry's own
 * packages, {@code dev.ferry}) and {@code logLevels} (any logger by name, e.g.
 * {@code dev.ferry.cni: debug}, {@code io.fabric8: warn}). Set once at start,
 * before the agent logs its first event.
 *
 * @param levels logger name to level, in the order they are set
 */
public record LogLevels(Map<String, String> levels) {
    public static final String FERRY = "dev.ferry";
    static final List<String> NAMES = List.of("trace", "debug", "info", "warn", "error", "off");
    private static final Pattern LOGGER = Pattern.compile("[A-Za-z_$][\\w$]*(\\.[A-Za-z_$][\\w$]*)*");

    public LogLevels {
        levels = Collections.unmodifiableMap(new LinkedHashMap<>(levels));
    }

    /** {@code logLevel} for dev.ferry, then every {@code logLevels} entry; each checked, the key named on error. */
    static LogLevels of(String ferryLevel, Map<String, String> perLogger, String ferryKey, String perLoggerKey) {
        Map<String, String> levels = new LinkedHashMap<>();
        levels.put(FERRY, level(ferryKey, ferryLevel));
        perLogger.forEach((logger, level) -> {
            if (!LOGGER.matcher(logger).matches()) {
                throw new ConfigException("key '" + perLoggerKey + "': '" + logger
                        + "' is not a logger name (a package or class, like dev.ferry.cni)");
            }
            levels.put(logger, level(perLoggerKey + "." + logger, level));
        });
        return new LogLevels(levels);
    }

    private static String level(String key, String text) {
        String level = text.trim().toLowerCase(Locale.ROOT);
        if (!NAMES.contains(level)) {
            throw new ConfigException("key '" + key + "' must be one of " + String.join(", ", NAMES) + ", not '" + text + "'");
        }
        return level;
    }

    /** Sets the levels on the running logback; a config read by a process without logback changes nothing. */
    public void apply() {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
            return;
        }
        levels.forEach((logger, level) -> context.getLogger(logger).setLevel(Level.toLevel(level)));
    }
}
