package dev.ferry.datapath;

import dev.ferry.bpf.BpfObject;
import dev.ferry.bpf.BpfProgram;
import dev.ferry.bpf.TcAttachment;
import dev.ferry.bpf.TcHook;
import dev.ferry.bpf.TcxHook;
import dev.ferry.bpf.TcxLink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The entry point of the datapath: loads bpf/datapath.c's object, adopting the
 * maps and links pinned under the bpffs root by an earlier agent, and hooks its
 * programs to devices.
 *
 * <p>Pins ({@code <root>/ferry_endpoints_v3}, ..., {@code <root>/links/<program>/<ifname>})
 * are what keep packets moving while no agent runs: closing this object releases
 * the process's file descriptors only. Device ifindexes belong to the network
 * namespace of the calling thread; the agent runs inside the node's namespace.
 */
public final class Datapath implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Datapath.class);

    static final String OBJECT_RESOURCE = "/bpf/ferry.bpf.o";
    static final String LINKS_DIR = "links";
    /** tc filter identity of every hook in tc mode (pod veths by default); one filter of ours per hook. */
    static final int TC_HANDLE = 0xfe77;
    static final int TC_PRIORITY = 1;
    /**
     * Pins of maps whose layout changed under a new name (bpf/lib/abi.h). Programs
     * of an earlier agent still hold them until their links are swapped; the pins
     * alone would keep them, and their memory, forever.
     */
    static final List<String> RETIRED_MAPS = List.of("ferry_endpoints", "ferry_metrics", "ferry_endpoint_metrics", "ferry_endpoints_v2",
            "ferry_metrics_v2");

    /** The programs of captures (bpf/lib/mirror.h), hooked by tc to devices of the moment, never pinned. */
    static final String MIRROR_TO_POD = "mirror_to_pod";
    static final String CAPTURE_SINK = "capture_sink";

    private final BpfObject object;
    private final Path bpffsRoot;
    private final AttachModes modes;
    private final EndpointMap endpoints;
    private final ClusterCidrMap clusterCidrs;
    private final CounterMaps counters;
    private final MonitorMaps monitor;
    private final EgressMaps egress;
    private final MirrorMap mirrors;

    private Datapath(BpfObject object, Path bpffsRoot, AttachModes modes) {
        this.object = object;
        this.bpffsRoot = bpffsRoot;
        this.modes = modes;
        this.endpoints = new EndpointMap(object.map(EndpointMap.NAME), object.map(EndpointMap.VETHS));
        this.clusterCidrs = new ClusterCidrMap(object.map(ClusterCidrMap.NAME));
        this.counters = new CounterMaps(object.map(CounterMaps.GLOBAL), object.map(EndpointMap.NAME));
        this.monitor = new MonitorMaps(object.map(MonitorMaps.EVENTS), object.map(MonitorMaps.CONFIG),
                object.map(MonitorMaps.STATE));
        this.egress = new EgressMaps(object.map(EgressMaps.DESTINATIONS), object.map(EgressMaps.NEXTHOPS),
                object.map(EgressMaps.COUNTERS));
        this.mirrors = new MirrorMap(object.map(MirrorMap.NAME), object.map(MirrorMap.COUNTERS));
    }

    /** {@link #load(Path, AttachModes)} with every program hooked in {@code mode}. */
    public static Datapath load(Path bpffsRoot, AttachMode mode) {
        return load(bpffsRoot, AttachModes.all(mode));
    }

    /**
     * Loads the programs; maps pinned under {@code bpffsRoot} are adopted, missing
     * ones created and pinned, and pins of retired maps removed once the load has
     * succeeded (a failed load leaves the earlier agent's state as it was).
     */
    public static Datapath load(Path bpffsRoot, AttachModes modes) {
        BpfObject object = BpfObject.load("ferry", objectBytes(), bpffsRoot);
        try {
            Datapath datapath = new Datapath(object, bpffsRoot, modes);
            // A pinned config outlives the agent: one that died with a monitor attached left it on.
            datapath.monitor.configure(MonitorMaps.Config.OFF);
            unpinRetiredMaps(bpffsRoot);
            return datapath;
        } catch (RuntimeException e) {
            object.close();
            throw e;
        }
    }

    private static void unpinRetiredMaps(Path bpffsRoot) {
        for (String name : RETIRED_MAPS) {
            Path pin = bpffsRoot.resolve(name);
            try {
                if (Files.deleteIfExists(pin)) {
                    log.info("event=retired_map_unpinned name={} pin={}", name, pin);
                }
            } catch (IOException e) {
                // Leftover memory, not a datapath fault: not worth refusing to start over.
                log.warn("event=retired_map_unpin_failed name={} pin={} cause={}", name, pin, e.toString());
            }
        }
    }

    private static byte[] objectBytes() {
        try (InputStream in = Datapath.class.getResourceAsStream(OBJECT_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("the agent jar has no " + OBJECT_RESOURCE + ": the build did not compile bpf/");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("failed to read " + OBJECT_RESOURCE, e);
        }
    }

    public EndpointMap endpoints() {
        return endpoints;
    }

    public ClusterCidrMap clusterCidrs() {
        return clusterCidrs;
    }

    public CounterMaps counters() {
        return counters;
    }

    public MonitorMaps monitor() {
        return monitor;
    }

    public EgressMaps egress() {
        return egress;
    }

    public MirrorMap mirrors() {
        return mirrors;
    }

    public Path bpffsRoot() {
        return bpffsRoot;
    }

    /** A program of the object by its C name; the capture programs have no {@link DatapathProgram}. */
    BpfProgram program(String name) {
        return object.program(name);
    }

    public BpfProgram program(DatapathProgram program) {
        return object.program(program.programName());
    }

    /**
     * Hooks {@code program} to the device in its mode, or moves an existing hook
     * of ours onto this object's program in one atomic step. A hook of the other
     * mode, left by an agent configured otherwise, goes once the new one is in:
     * both would run, and count passed packets twice. Safe to repeat.
     */
    public Attachment attach(DatapathProgram program, String ifname, int ifindex) {
        BpfProgram prog = program(program);
        return switch (modes.of(program)) {
            case TCX -> {
                Attachment attached = attachTcx(program, prog, ifname, ifindex);
                removeTcFilter(ifindex);
                yield attached;
            }
            case TC -> {
                try (TcAttachment tc = TcAttachment.attach(prog, ifindex, TcHook.INGRESS, TC_HANDLE, TC_PRIORITY)) {
                    removeTcxLink(linkPin(program, ifname));
                    // The filter runs the program just attached; asking the kernel again would cost a netlink dump.
                    yield new Attachment(program, ifname, ifindex, AttachMode.TC, prog.id());
                }
            }
        };
    }

    private Attachment attachTcx(DatapathProgram program, BpfProgram prog, String ifname, int ifindex) {
        Path pin = linkPin(program, ifname);
        Optional<TcxLink> existing = TcxLink.openPinnedIfExists(pin);
        if (existing.isPresent()) {
            try (TcxLink link = existing.get()) {
                if (link.ifindex() == ifindex) {
                    if (link.programId() != prog.id()) {
                        link.update(prog);
                    }
                    return new Attachment(program, ifname, ifindex, AttachMode.TCX, link.programId());
                }
                // The pin outlived its device (deleted, or a new one took the name): replace it.
                link.detach();
                TcxLink.unpin(pin);
            }
        }
        try (TcxLink link = TcxLink.attach(prog, ifindex, TcxHook.INGRESS)) {
            link.pin(pin);
            return new Attachment(program, ifname, ifindex, AttachMode.TCX, link.programId());
        }
    }

    /**
     * The hook of {@code program} on the device as the kernel has it now, with
     * the id of the program it runs (compare with {@link #program}); empty when
     * nothing of ours is hooked there.
     */
    public Optional<Attachment> attached(DatapathProgram program, String ifname, int ifindex) {
        return switch (modes.of(program)) {
            case TCX -> TcxLink.openPinnedIfExists(linkPin(program, ifname)).flatMap(link -> {
                try (link) {
                    return link.ifindex() == ifindex
                            ? Optional.of(new Attachment(program, ifname, ifindex, AttachMode.TCX, link.programId()))
                            : Optional.empty();
                }
            });
            case TC -> TcAttachment.find(ifindex, TcHook.INGRESS, TC_HANDLE, TC_PRIORITY).map(tc -> {
                try (tc) {
                    return new Attachment(program, ifname, ifindex, AttachMode.TC, tc.programId());
                }
            });
        };
    }

    /**
     * Drops what of {@code program}'s hook would outlive the device: its TCX link
     * pin. For a device about to be deleted, which takes its tc filters and TCX
     * links with it; cheaper than {@link #detach}, which asks the kernel first.
     */
    public void forgetDevice(DatapathProgram program, String ifname) {
        TcxLink.unpin(linkPin(program, ifname));
    }

    /** Unhooks {@code program} from the device, whichever mode hooked it; nothing attached is fine. */
    public void detach(DatapathProgram program, String ifname, int ifindex) {
        removeTcxLink(linkPin(program, ifname));
        if (ifindex > 0) {
            removeTcFilter(ifindex);
        }
    }

    private static void removeTcxLink(Path pin) {
        TcxLink.openPinnedIfExists(pin).ifPresent(link -> {
            try (link) {
                link.detach();
            }
        });
        TcxLink.unpin(pin);
    }

    private static void removeTcFilter(int ifindex) {
        TcAttachment.find(ifindex, TcHook.INGRESS, TC_HANDLE, TC_PRIORITY).ifPresent(tc -> {
            try (tc) {
                tc.detach();
            }
        });
    }

    /**
     * Hooks mirror_to_pod to the host veth's tc egress (what the stack delivers
     * into a mirrored pod; bpf/lib/mirror.h), or moves it onto this object's
     * program. Only while the endpoint is mirrored: unmirrored pods pay nothing
     * there. tc, whatever the attach mode: the hook comes and goes with captures
     * and must not outlive the agent as a pinned link would.
     */
    public void hookMirror(int ifindex) {
        try (TcAttachment tc = TcAttachment.attach(object.program(MIRROR_TO_POD), ifindex, TcHook.EGRESS,
                TC_HANDLE, TC_PRIORITY)) {
            log.debug("event=mirror_hooked ifindex={} prog_id={}", ifindex, tc.programId());
        }
    }

    /** Removes {@link #hookMirror}'s filter; none there is fine. */
    public void unhookMirror(int ifindex) {
        TcAttachment.find(ifindex, TcHook.EGRESS, TC_HANDLE, TC_PRIORITY).ifPresent(tc -> {
            try (tc) {
                tc.detach();
            }
        });
    }

    /** Whether {@link #hookMirror}'s filter is on the device. */
    public boolean mirrorHooked(int ifindex) {
        return TcAttachment.find(ifindex, TcHook.EGRESS, TC_HANDLE, TC_PRIORITY).map(tc -> {
            try (tc) {
                return true;
            }
        }).orElse(false);
    }

    /** Drops everything arriving at the device after its packet taps (capture_sink): the reading end of a capture device. */
    public void hookCaptureSink(int ifindex) {
        try (TcAttachment tc = TcAttachment.attach(object.program(CAPTURE_SINK), ifindex, TcHook.INGRESS,
                TC_HANDLE, TC_PRIORITY)) {
            log.debug("event=capture_sink_hooked ifindex={} prog_id={}", ifindex, tc.programId());
        }
    }

    /**
     * Moves every pinned TCX link onto this object's programs (an atomic swap per
     * link: no packet sees a gap) and drops pins whose device is gone. Called
     * once at start by an agent that takes over from an earlier one.
     */
    public List<Attachment> adoptPinnedLinks() {
        List<Attachment> adopted = new ArrayList<>();
        for (DatapathProgram program : DatapathProgram.values()) {
            Path dir = bpffsRoot.resolve(LINKS_DIR).resolve(program.programName());
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (Stream<Path> pins = Files.list(dir)) {
                for (Path pin : pins.sorted().toList()) {
                    adoptPin(program, pin).ifPresent(adopted::add);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("failed to list pinned links in '" + dir + "'", e);
            }
        }
        return adopted;
    }

    private Optional<Attachment> adoptPin(DatapathProgram program, Path pin) {
        String ifname = ifnameOfPin(pin.getFileName().toString());
        try (TcxLink link = TcxLink.openPinned(pin)) {
            if (link.ifindex() == 0) {
                log.info("event=link_pin_stale pin={} reason=device_gone action=unpinned", pin);
                TcxLink.unpin(pin);
                return Optional.empty();
            }
            BpfProgram prog = program(program);
            int before = link.programId();
            link.update(prog);
            log.info("event=link_adopted program={} ifname={} ifindex={} old_prog_id={} new_prog_id={}",
                    program.programName(), ifname, link.ifindex(), before, prog.id());
            return Optional.of(new Attachment(program, ifname, link.ifindex(), AttachMode.TCX, link.programId()));
        }
    }

    /**
     * bpffs refuses names with a dot (reserved for its own files, EPERM), while
     * interface names may have one (eth0.100). ':' is one character Linux never
     * allows in an interface name, so it stands in for '.' without ambiguity.
     */
    static String pinNameOfIfname(String ifname) {
        return ifname.replace('.', ':');
    }

    static String ifnameOfPin(String pinName) {
        return pinName.replace(':', '.');
    }

    Path linkPin(DatapathProgram program, String ifname) {
        return bpffsRoot.resolve(LINKS_DIR).resolve(program.programName()).resolve(pinNameOfIfname(ifname));
    }

    /** Releases this process's handles; pinned maps and links stay and keep forwarding. */
    @Override
    public void close() {
        object.close();
    }
}
