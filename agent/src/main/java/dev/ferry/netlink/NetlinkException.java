package dev.ferry.netlink;

import dev.ferry.linux.Errno;

import java.util.Optional;

/**
 * The kernel refused a netlink request. The message names the operation and the
 * object ("failed to add route 10.244.1.5/32 dev ferabc: File exists (errno 17)")
 * and ends with the kernel's own explanation when it sent one (extended ack).
 */
public class NetlinkException extends Errno {
    private final String operation;
    private final String kernelMessage;

    NetlinkException(String operation, int errno, String kernelMessage) {
        // Every change the agent asks of rtnetlink needs CAP_NET_ADMIN in the namespace it changes.
        super(operation, errno, errno == EPERM ? "needs CAP_NET_ADMIN" : null);
        this.operation = operation;
        this.kernelMessage = kernelMessage;
    }

    /** What was attempted, e.g. "failed to delete link 'ferabc'". */
    public String operation() {
        return operation;
    }

    /** The kernel's extended-ack text (NLMSGERR_ATTR_MSG), when it gave one. */
    public Optional<String> kernelMessage() {
        return Optional.ofNullable(kernelMessage);
    }

    @Override
    public String getMessage() {
        return kernelMessage == null ? super.getMessage() : super.getMessage() + ": " + kernelMessage;
    }

    /**
     * The object the request was about does not exist: a delete of something
     * already gone, a change to a link that is not there. CNI DEL treats it as
     * success; every other failure stays a plain {@link NetlinkException}.
     */
    public static final class NotFound extends NetlinkException {
        NotFound(String operation, int errno, String kernelMessage) {
            super(operation, errno, kernelMessage);
        }
    }
}
