package dev.ferry.masquerade;

import dev.ferry.netns.NetNamespace;

/**
 * Source NAT for pods reaching outside the cluster: the traffic the BPF programs
 * leave to the stack on purpose takes the node's address on its way out.
 *
 * <p>Ferry owns exactly one nftables table, {@code table ip ferry} (see
 * {@link NatTable}); every call replaces or deletes that table in one transaction and
 * never names another. Stateless: {@link #apply} replaces the table whole, which
 * also undoes any drift, or removes it when masquerade is off.
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

    /** Makes the table match {@code rules}: the whole table replaced, or removed when disabled. */
    public synchronized void apply(MasqueradeRules rules) {
        nft.run(node, rules.enabled() ? NatTable.replacement(rules) : NatTable.removal());
    }

}
