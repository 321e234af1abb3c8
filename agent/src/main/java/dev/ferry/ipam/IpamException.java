package dev.ferry.ipam;

/**
 * What the IPAM can fail with beside I/O errors; the CNI layer maps each to its
 * error code. An ill-formed state file is not among them: it is quarantined.
 */
public abstract sealed class IpamException extends RuntimeException
        permits IpamException.Exhausted {

    IpamException(String message, Throwable cause) {
        super(message, cause);
    }

    /** Every usable address of the pod CIDR is taken. */
    public static final class Exhausted extends IpamException {
        Exhausted(String message) {
            super(message, null);
        }
    }
}
