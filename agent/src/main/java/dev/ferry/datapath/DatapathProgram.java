package dev.ferry.datapath;

/** The programs of bpf/datapath.c and where each one is attached. */
public enum DatapathProgram {
    /** Ingress of every host-side pod veth: packets leaving a pod. */
    FROM_POD("from_pod"),
    /** Ingress of the uplink: packets arriving at the node. */
    TO_POD("to_pod");

    private final String sectionName;

    DatapathProgram(String sectionName) {
        this.sectionName = sectionName;
    }

    /** The C function name, which is also the program's name in the object. */
    public String programName() {
        return sectionName;
    }
}
