package dev.ferry.cni;

import java.util.Optional;

/** Whether the agent can take ADDs now; STATUS answers code 50 with the reason when it cannot. */
@FunctionalInterface
public interface Readiness {
    Readiness READY = Optional::empty;

    /** Empty when ready; otherwise why not, in words an operator can act on. */
    Optional<String> notReadyReason();
}
