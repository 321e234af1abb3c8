package dev.ferry.masquerade;

/** nft could not be run, or rejected the ruleset; the message says which and keeps nft's own words. */
public final class MasqueradeException extends RuntimeException {
    MasqueradeException(String message) {
        super(message);
    }

    MasqueradeException(String message, Throwable cause) {
        super(message, cause);
    }
}
