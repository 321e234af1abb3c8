package dev.ferry.linux;

/**
 * A failed system call: the operation in Ferry's words ("failed to open
 * '/run/netns/pod-a'"), errno and the C library's message for it.
 */
public class Errno extends RuntimeException {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;

    private final int errno;

    public Errno(String operation, int errno) {
        this(operation, errno, null);
    }

    /**
     * With a hint after the errno when there is one to give: what a refusal of
     * the agent's means is usually a capability the container lacks
     * ("... (errno 1; needs CAP_NET_ADMIN)"), and saying which saves an
     * operator the search.
     */
    public Errno(String operation, int errno, String hint) {
        super(operation + ": " + Libc.strerror(errno) + " (errno " + errno + (hint == null ? "" : "; " + hint) + ")");
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
