package dev.ferry.cni;

/** Carries a {@link CniError} out of parsing and handling code to the one place that answers it. */
public final class CniException extends RuntimeException {
    private final CniError error;

    public CniException(CniError error) {
        super(error.msg() + (error.details().isEmpty() ? "" : ": " + error.details()));
        this.error = error;
    }

    public CniException(int code, String msg, String details) {
        this(new CniError(code, msg, details));
    }

    public CniError error() {
        return error;
    }
}
