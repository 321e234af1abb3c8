package dev.ferry.agent;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * One DEL that ferry-cni spooled: the exact HTTP/1.1 request it would have sent
 * (cni-plugin/src/ferry-cni.c build_request): {@code POST /v1/cni HTTP/1.1}, the
 * CNI environment as headers, a Content-Length, a blank line and the network
 * configuration byte for byte. Parsed strictly: a file that is not exactly that is
 * not replayed, because a truncated configuration could name the wrong network.
 *
 * @param headers case-insensitive, as HTTP headers are
 */
record SpooledRequest(Map<String, String> headers, byte[] body) {
    private static final String END_OF_HEAD = "\r\n\r\n";

    /** Why a spool file cannot be replayed. */
    static final class Malformed extends Exception {
        Malformed(String reason) {
            super(reason);
        }
    }

    static SpooledRequest parse(byte[] data) throws Malformed {
        // ISO-8859-1 maps each byte to one char, so string indexes are byte offsets.
        String text = new String(data, StandardCharsets.ISO_8859_1);
        int headEnd = text.indexOf(END_OF_HEAD);
        if (headEnd < 0) {
            throw new Malformed("no end of the request head (a blank line)");
        }
        String[] lines = text.substring(0, headEnd).split("\r\n", -1);
        if (!lines[0].matches("POST /v1/cni HTTP/1\\.[01]")) {
            throw new Malformed("the request line is '" + printable(lines[0]) + "', not 'POST /v1/cni HTTP/1.1'");
        }
        Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon <= 0) {
                throw new Malformed("header line " + i + " is not 'Name: value': '" + printable(lines[i]) + "'");
            }
            String name = lines[i].substring(0, colon).strip();
            if (headers.put(name, lines[i].substring(colon + 1).strip()) != null) {
                throw new Malformed("header '" + name + "' appears twice");
            }
        }
        byte[] body = Arrays.copyOfRange(data, headEnd + END_OF_HEAD.length(), data.length);
        String length = headers.getOrDefault("Content-Length", "");
        if (!length.matches("[0-9]{1,9}")) {
            throw new Malformed("no valid Content-Length ('" + printable(length) + "')");
        }
        if (Integer.parseInt(length) != body.length) {
            throw new Malformed("Content-Length is " + length + " but " + body.length + " bytes follow (a truncated file?)");
        }
        return new SpooledRequest(headers, body);
    }

    @Override
    public byte[] body() {
        return body.clone();
    }

    private static String printable(String s) {
        String shown = s.length() > 80 ? s.substring(0, 80) + "..." : s;
        return shown.replaceAll("\\p{Cntrl}", "?");
    }
}
