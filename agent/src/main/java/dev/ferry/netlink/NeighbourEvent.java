package dev.ferry.netlink;

/** What {@link NeighbourEvents} hands its consumer: one notification of the kernel's, or word that some were lost. */
public sealed interface NeighbourEvent {

    /** RTM_NEWNEIGH: an entry was added, or its state or link-layer address changed. */
    record Changed(Neighbour neighbour) implements NeighbourEvent {}

    /** RTM_DELNEIGH: an entry is gone (deleted, flushed with its link, or garbage-collected); its last state. */
    record Deleted(Neighbour neighbour) implements NeighbourEvent {}

    /**
     * The kernel dropped notifications that did not fit the socket's receive
     * buffer (ENOBUFS): what the consumer knows may be stale, and only a fresh
     * read of the table tells it what is true now. The notifications still
     * queued were discarded (older than that read, they would undo it); the
     * events after this one are complete again.
     */
    record Resync() implements NeighbourEvent {}
}
