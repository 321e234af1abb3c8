package dev.ferry.testing;

import dev.ferry.netns.NetNamespace;

import java.util.concurrent.ThreadLocalRandom;

/**
 * A throwaway network namespace named {@code ferrytest-<prefix>-<random>} so that a test
 * can run twice in a row, or beside another, without name clashes. Deleted on
 * close, with everything in it (its veth ends go with it).
 */
public final class TestNetns implements AutoCloseable {
    /** scripts/test.sh fails the run when a namespace of this prefix outlives the tests. */
    public static final String NAME_PREFIX = "ferrytest-";

    private final String name;
    private NetNamespace handle;

    private TestNetns(String name) {
        this.name = name;
    }

    /** prefix: a few letters naming the test. */
    public static TestNetns create(String prefix) {
        String name = NAME_PREFIX + prefix + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0xffff));
        Shell.run("ip", "netns", "add", name);
        TestNetns ns = new TestNetns(name);
        ns.ip("link", "set", "lo", "up");
        return ns;
    }

    public String name() {
        return name;
    }

    /** {@code ip -n NAME args...} */
    public String ip(String... args) {
        String[] cmd = new String[args.length + 3];
        cmd[0] = "ip";
        cmd[1] = "-n";
        cmd[2] = name;
        System.arraycopy(args, 0, cmd, 3, args.length);
        return Shell.run(cmd);
    }

    /** Runs a command inside the namespace (nsenter keeps the host's bpffs visible, unlike ip netns exec). */
    public Shell.Result exec(String... command) {
        String[] cmd = new String[command.length + 2];
        cmd[0] = "nsenter";
        cmd[1] = "--net=/run/netns/" + name;
        System.arraycopy(command, 0, cmd, 2, command.length);
        return Shell.exec(cmd);
    }

    public String sysctl(String key, String value) {
        return Shell.run("nsenter", "--net=/run/netns/" + name, "sysctl", "-qw", key + "=" + value);
    }

    /** The namespace for running Java code inside it (sockets, BPF attach, test runs). */
    public synchronized NetNamespace handle() {
        if (handle == null) {
            handle = NetNamespace.named(name);
        }
        return handle;
    }

    /** ifindex of a link inside this namespace. */
    public int ifindex(String link) {
        String out = ip("-o", "link", "show", "dev", link);
        return Integer.parseInt(out.substring(0, out.indexOf(':')).trim());
    }

    /** MAC address of a link inside this namespace. */
    public byte[] mac(String link) {
        String out = ip("-o", "link", "show", "dev", link);
        String hex = out.replaceAll("(?s).*link/ether ([0-9a-f:]{17}).*", "$1").trim();
        byte[] mac = new byte[6];
        String[] parts = hex.split(":");
        for (int i = 0; i < 6; i++) {
            mac[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        return mac;
    }

    @Override
    public synchronized void close() {
        if (handle != null) {
            handle.close();
            handle = null;
        }
        Shell.exec("ip", "netns", "del", name);
    }

    @Override
    public String toString() {
        return name;
    }
}
