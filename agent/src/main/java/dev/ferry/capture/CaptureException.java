package dev.ferry.capture;

/** A capture that cannot start, in words for the operator; {@code status} is the HTTP status the API answers with. */
public final class CaptureException extends RuntimeException {
    private final int status;

    CaptureException(int status, String message) {
        super(message);
        this.status = status;
    }

    /** 400 bad request (a filter, a count), 404 no such pod here, 503 every slot taken. */
    public int status() {
        return status;
    }
}
