package dev.ferry.cni;

/** The operations of CNI_COMMAND. */
public enum CniCommand {
    ADD, DEL, CHECK, STATUS, GC, VERSION;

    /** Exact, upper-case match as skel does; anything else is code 4 ("unknown CNI_COMMAND"). */
    public static CniCommand parse(String text) {
        for (CniCommand c : values()) {
            if (c.name().equals(text)) {
                return c;
            }
        }
        throw new CniException(CniError.INVALID_ENVIRONMENT_VARIABLES, "unknown CNI_COMMAND: " + text, "");
    }

    /** Commands that act on one container attachment (and so carry a container id and an interface name). */
    public boolean isPerContainer() {
        return this == ADD || this == DEL || this == CHECK;
    }
}
