package dev.ferry.bpf;

import dev.ferry.bpf.libbpf.Bpf;

/** The two TCX attach points of a network device. */
public enum TcxHook {
    INGRESS(Bpf.BPF_TCX_INGRESS),
    EGRESS(Bpf.BPF_TCX_EGRESS);

    final int attachType;

    TcxHook(int attachType) {
        this.attachType = attachType;
    }
}
