package dev.ferry.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * {@code ferry capture POD}: the pod's packets as the datapath sees them, both
 * directions, cloned in BPF to a capture device of the agent and streamed here
 * as pcap. Values are checked by the agent, which answers a bad one before it
 * turns anything on (exit 1).
 */
@Command(name = "capture", mixinStandardHelpOptions = true,
        description = {"The packets of one pod of this node, as the datapath sees them (what bpf_redirect_peer "
                + "and bpf_redirect_neigh move too): one line each, or pcap with -w.",
                "Ends at --count or --duration, or with CTRL-C; the agent turns the capture off then."})
final class CaptureCommand implements Callable<Integer> {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSSSSS").withZone(ZoneId.systemDefault());

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "POD", description = "namespace/name, a container id, or one of the pod's addresses")
    String pod;

    @Option(names = "--socket", paramLabel = "PATH", description = "the agent socket (default: " + Main.DEFAULT_SOCKET + ")")
    Path socket;

    @Option(names = "-w", paramLabel = "FILE", description = "write pcap to FILE, or to standard output with - "
            + "(ferry capture POD -w - | tcpdump -r -)")
    String write;

    @Option(names = "--count", paramLabel = "N", description = "stop after N packets")
    String count;

    @Option(names = "--duration", paramLabel = "TIME", description = "stop after TIME (30s, 5m, 1h)")
    String duration;

    @Option(names = "--direction", paramLabel = "DIR", description = "in (into the pod), out (from it) or both (default)")
    String direction;

    @Option(names = "--proto", paramLabel = "PROTO", description = "tcp, udp, icmp or icmpv6")
    String proto;

    @Option(names = "--peer", paramLabel = "ADDR", description = "only packets to or from this address")
    String peer;

    @Option(names = "--port", paramLabel = "N", description = "only TCP/UDP packets with this source or destination port")
    String port;

    @Override
    public Integer call() throws IOException {
        ObjectNode request = AgentCall.JSON.createObjectNode().put("pod", pod);
        putIf(request, "count", count);
        putIf(request, "duration", duration);
        putIf(request, "direction", direction);
        putIf(request, "proto", proto);
        putIf(request, "peer", peer);
        putIf(request, "port", port);
        try (SocketClient.Stream answer = new SocketClient(socket()).postStreaming("/v1/capture", request.toString())) {
            if (answer.status() != 200) {
                throw new AgentCall.AgentError(error(answer));
            }
            Set<String> addresses = Arrays.stream(answer.headers().getOrDefault("Ferry-Capture-Addresses", "").split(","))
                    .filter(s -> !s.isBlank()).collect(Collectors.toSet());
            String name = answer.headers().getOrDefault("Ferry-Capture-Pod", pod);
            PrintWriter err = spec.commandLine().getErr();
            if (write == null) {
                err.println("ferry: capturing " + name + " (" + String.join(",", addresses) + "), CTRL-C to stop");
                long n = lines(answer.body(), addresses, spec.commandLine().getOut());
                err.println("ferry: " + n + " packets captured");
            } else if (write.equals("-")) {
                answer.body().transferTo(System.out);
                System.out.flush();
            } else {
                try (OutputStream file = Files.newOutputStream(Path.of(write))) {
                    long bytes = copyFlushing(answer.body(), file);
                    err.println("ferry: " + write + ": " + bytes + " bytes of pcap from " + name);
                }
            }
        }
        return 0;
    }

    private Path socket() {
        if (socket != null) {
            return socket;
        }
        Path root = ((FerryCommand) spec.root().userObject()).socket;
        return root != null ? root : Path.of(Main.DEFAULT_SOCKET);
    }

    private static void putIf(ObjectNode node, String field, String value) {
        if (value != null) {
            node.put(field, value);
        }
    }

    private static String error(SocketClient.Stream answer) throws IOException {
        byte[] body = answer.body().readAllBytes();
        try {
            JsonNode json = AgentCall.JSON.readTree(body);
            return json.path("error").asText("the agent answered " + answer.status());
        } catch (IOException e) {
            return "the agent answered " + answer.status();
        }
    }

    /** Writes as it reads, flushing each read: CTRL-C leaves a file with every packet that had arrived. */
    private static long copyFlushing(InputStream in, OutputStream out) throws IOException {
        byte[] buffer = new byte[64 * 1024];
        long total = 0;
        for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
            out.write(buffer, 0, n);
            out.flush();
            total += n;
        }
        return total;
    }

    /** One line per pcap record: time, direction seen from the pod, addresses, protocol, length. */
    static long lines(InputStream body, Set<String> podAddresses, PrintWriter out) throws IOException {
        DataInputStream in = new DataInputStream(body);
        byte[] header = new byte[24];
        try {
            in.readFully(header);
        } catch (EOFException e) {
            return 0;
        }
        long n = 0;
        byte[] recordHeader = new byte[16];
        while (true) {
            try {
                in.readFully(recordHeader);
            } catch (EOFException e) {
                return n;
            }
            ByteBuffer r = ByteBuffer.wrap(recordHeader).order(ByteOrder.LITTLE_ENDIAN);
            long seconds = Integer.toUnsignedLong(r.getInt());
            int micros = r.getInt();
            byte[] frame = new byte[r.getInt()];
            int length = r.getInt();
            in.readFully(frame);
            out.println(TIME.format(Instant.ofEpochSecond(seconds, micros * 1000L)) + " " + describe(frame, length, podAddresses));
            out.flush();
            n++;
        }
    }

    static String describe(byte[] frame, int length, Set<String> podAddresses) {
        ByteBuffer f = ByteBuffer.wrap(frame);
        if (frame.length < 14) {
            return "? truncated frame, length " + length;
        }
        int type = Short.toUnsignedInt(f.getShort(12));
        String src;
        String dst;
        int proto;
        int l4;
        if (type == 0x0800 && frame.length >= 34) {
            src = address(frame, 26, 4);
            dst = address(frame, 30, 4);
            proto = frame[23] & 0xff;
            l4 = 14 + (frame[14] & 0x0f) * 4;
        } else if (type == 0x86dd && frame.length >= 54) {
            src = address(frame, 22, 16);
            dst = address(frame, 38, 16);
            proto = frame[20] & 0xff;
            l4 = 54;
        } else if (type == 0x0806) {
            return "- ARP, length " + length;
        } else {
            return String.format("- ethertype 0x%04x, length %d", type, length);
        }
        String direction = podAddresses.contains(src) ? "out" : podAddresses.contains(dst) ? "in" : "-";
        String what = switch (proto) {
            case 1 -> "ICMP" + icmp(frame, l4, 0, 8);
            case 58 -> "ICMPv6" + icmp(frame, l4, 129, 128);
            case 6 -> "TCP" + ports(frame, l4);
            case 17 -> "UDP" + ports(frame, l4);
            default -> "proto " + proto;
        };
        return direction + " " + src + " > " + dst + " " + what + ", length " + length;
    }

    private static String icmp(byte[] frame, int off, int reply, int request) {
        if (frame.length <= off) {
            return "";
        }
        int type = frame[off] & 0xff;
        return type == request ? " echo request" : type == reply ? " echo reply" : " type " + type;
    }

    private static String ports(byte[] frame, int off) {
        if (frame.length < off + 4) {
            return "";
        }
        ByteBuffer b = ByteBuffer.wrap(frame);
        return " " + Short.toUnsignedInt(b.getShort(off)) + " > " + Short.toUnsignedInt(b.getShort(off + 2));
    }

    private static String address(byte[] frame, int off, int len) {
        try {
            return InetAddress.getByAddress(Arrays.copyOfRange(frame, off, off + len)).getHostAddress();
        } catch (IOException e) {
            return "?";
        }
    }
}
