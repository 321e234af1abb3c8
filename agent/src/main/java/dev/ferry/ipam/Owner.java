package dev.ferry.ipam;

/**
 * Who holds an address: CNI's (container id, interface name). Both end up in a
 * file whose lines they are, so neither may hold a newline; '/' and NUL are
 * refused too, so that the pair can never be read as a path by a later change.
 */
record Owner(String containerId, String ifname) {
    Owner {
        check("container id", containerId);
        check("interface name", ifname);
    }

    private static void check(String what, String value) {
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException(what + " must not be empty");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '/' || c == '\n' || c == '\r' || c == '\0') {
                throw new IllegalArgumentException(what + " '" + value.replace("\n", "\\n").replace("\r", "\\r")
                        + "' must not contain '/', a newline or NUL");
            }
        }
    }

    /** The address file's content. */
    String fileContent() {
        return containerId + "\n" + ifname + "\n";
    }
}
