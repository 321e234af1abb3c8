package dev.ferry.datapath;

/** A datapath program hooked to a device of the node. */
public record Attachment(DatapathProgram program, String ifname, int ifindex, AttachMode mode, int programId) {}
