package dev.ferry.api;

/** Who is on the other end of an agent socket connection, as the kernel reports it (SO_PEERCRED). */
public record PeerCredentials(int pid, int uid, int gid) {}
