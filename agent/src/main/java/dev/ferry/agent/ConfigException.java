package dev.ferry.agent;

/** A configuration the agent cannot run with; the message names the file and the key, and is all an operator needs. */
public final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }
}
