package dev.ferry.datapath;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A stand-alone process that takes the datapath over the way an agent does at
 * start: load (adopting pinned maps), move pinned links onto its programs, attach
 * what is asked, report, then hold on until told to go (a line on stdin or EOF).
 * Run by DatapathRestartTest inside the node namespace (nsenter).
 *
 * <p>Usage: {@code --bpffs DIR [--attach PROGRAM:IFNAME:IFINDEX]...}
 */
public final class DatapathLoaderMain {
    private DatapathLoaderMain() {}

    public static void main(String[] args) throws Exception {
        Path bpffs = null;
        List<String[]> attach = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--bpffs" -> bpffs = Path.of(args[++i]);
                case "--attach" -> attach.add(args[++i].split(":"));
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        try (Datapath datapath = Datapath.load(bpffs, AttachMode.TCX)) {
            for (Attachment adopted : datapath.adoptPinnedLinks()) {
                System.out.println("ADOPTED " + adopted.ifname() + " " + adopted.programId());
            }
            for (String[] a : attach) {
                DatapathProgram program = DatapathProgram.valueOf(a[0]);
                Attachment at = datapath.attach(program, a[1], Integer.parseInt(a[2]));
                System.out.println("ATTACHED " + at.ifname() + " " + at.programId());
            }
            System.out.println("READY " + datapath.program(DatapathProgram.FROM_POD).id());
            System.out.flush();
            new BufferedReader(new InputStreamReader(System.in)).readLine();
        }
        System.out.println("EXITING");
    }
}
