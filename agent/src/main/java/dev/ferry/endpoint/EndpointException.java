package dev.ferry.endpoint;

import java.util.List;

/**
 * Why an endpoint operation did not happen. Sealed so the CNI layer maps each
 * case to its error code in one exhaustive switch.
 */
public abstract sealed class EndpointException extends RuntimeException {
    private final String details;

    private EndpointException(String message, String details, Throwable cause) {
        super(details.isEmpty() ? message : message + ": " + details, cause);
        this.details = details;
    }

    /** The message without the details, for the CNI error's {@code msg}. */
    public String summary() {
        String m = getMessage();
        return details.isEmpty() ? m : m.substring(0, m.length() - details.length() - 2);
    }

    public String details() {
        return details;
    }

    /** The netns path does not exist or is not a network namespace. */
    public static final class BadNetns extends EndpointException {
        public BadNetns(String details, Throwable cause) {
            super("cannot enter the pod's network namespace", details, cause);
        }
    }

    /** ADD for an attachment that exists in another netns, or an interface name the pod already uses. */
    public static final class AlreadyExists extends EndpointException {
        public AlreadyExists(String details) {
            super("the interface already exists", details, null);
        }
    }

    /** Every address of the pod CIDR is held. */
    public static final class PoolExhausted extends EndpointException {
        public PoolExhausted(String details, Throwable cause) {
            super("no address left in the pod CIDR", details, cause);
        }
    }

    /** CHECK of an attachment this agent does not know. */
    public static final class Unknown extends EndpointException {
        public Unknown(EndpointKey key) {
            super("unknown container", "no endpoint for " + key, null);
        }
    }

    /** CHECK found the endpoint not as ADD left it. */
    public static final class Broken extends EndpointException {
        private final List<String> problems;

        public Broken(EndpointKey key, List<String> problems) {
            super("endpoint " + key + " is not as ADD left it", String.join("; ", problems), null);
            this.problems = List.copyOf(problems);
        }

        public List<String> problems() {
            return problems;
        }
    }

    /** DEL could not remove everything; the state and address stay so that a retried DEL finishes the job. */
    public static final class Incomplete extends EndpointException {
        public Incomplete(EndpointKey key, List<String> failures) {
            super("DEL of " + key + " did not finish; retry it", String.join("; ", failures), null);
        }
    }

    /** The kernel refused a step (netlink, BPF, sysctl) or state could not be written; what was made is rolled back. */
    public static final class Failed extends EndpointException {
        public Failed(String message, String details, Throwable cause) {
            super(message, details, cause);
        }
    }
}
