package dev.ferry.linux;

/**
 * A failed system call: the operation in Ferry's words ("failed to open
 * '/run/netns/pod-a'"), errno and the C library's message for it.
 */
public class Errno extends RuntimeException {
    public static final int ENOENT = 2;
    public static final int ENOMEM = 12;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;

    private final int errno;

    public Errno(String operation, int errno) {
        super(operation + ": " + Libc.strerror(errno) + " (errno " + errno + ")");
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
