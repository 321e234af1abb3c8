package dev.ferry.ipam;

import java.nio.file.Path;

/** What the IPAM can fail with beside I/O errors; the CNI layer maps each to its error code. */
public abstract sealed class IpamException extends RuntimeException
        permits IpamException.Exhausted, IpamException.StateCorrupt {

    IpamException(String message, Throwable cause) {
        super(message, cause);
    }

    /** Every usable address of the pod CIDR is taken. */
    public static final class Exhausted extends IpamException {
        Exhausted(String message) {
            super(message, null);
        }
    }

    /** A state file that this code did not write in that shape: someone edited it, or the disk lied. */
    public static final class StateCorrupt extends IpamException {
        private final Path file;

        StateCorrupt(Path file, String problem, Throwable cause) {
            super("IPAM state file '" + file + "' is corrupt: " + problem, cause);
            this.file = file;
        }

        public Path file() {
            return file;
        }
    }
}
