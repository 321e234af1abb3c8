package dev.ferry.masquerade;

import dev.ferry.netns.NetNamespace;

/**
 * Source NAT for pods reaching outside the cluster: the traffic the BPF programs
 * leave to the stack on purpose takes the node's address on its way out.
 *
 * <p>Ferry owns two nftables tables, {@code table ip ferry} and {@code table ip6 ferry}
 * (see {@link NatTable}); every call replaces or deletes both in one transaction and
 * never names another. Stateless: {@link #apply} replaces each table whole, which
 * also undoes any drift, or removes it when its family's masquerade is off.
 * {@link MasqueradeWriter} is the agent's one caller.
 */
public final class Masquerade {
    private final NetNamespace node;
    private final Nft nft;

    /** node: the node's network namespace (the agent's own one is fine). */
    public Masquerade(NetNamespace node) {
        this(node, "nft");
    }

    /** nftProgram: a path to nft, or a name to search for (tests use it to fake a missing or failing nft). */
    Masquerade(NetNamespace node, String nftProgram) {
        this.node = node;
        this.nft = new Nft(nftProgram);
    }

    /** Makes the tables match {@code rules}: each table replaced whole, or removed when its family is off. */
    public synchronized void apply(MasqueradeRules rules) {
        nft.run(node, NatTable.transaction(rules));
    }

}
