package dev.ferry.bpf;

import dev.ferry.bpf.libbpf.Libbpf;

/** The two clsact attach points of a network device, where {@link TcAttachment} hooks its filters. */
public enum TcHook {
    INGRESS(Libbpf.BPF_TC_INGRESS),
    EGRESS(Libbpf.BPF_TC_EGRESS);

    final int attachPoint;

    TcHook(int attachPoint) {
        this.attachPoint = attachPoint;
    }
}
