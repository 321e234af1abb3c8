/**
 * The CNI protocol as the agent speaks it, without any plumbing: a forwarded
 * invocation becomes a validated {@link dev.ferry.cni.CniRequest} (environment
 * headers plus {@link dev.ferry.cni.NetworkConfig}), and the agent answers a
 * {@link dev.ferry.cni.CniReply}: a {@link dev.ferry.cni.CniResult}, a
 * {@link dev.ferry.cni.CniError} or the VERSION answer, each rendered in the
 * shape of the configuration's {@code cniVersion}. {@link dev.ferry.cni.ContainerLocks}
 * keeps operations on one container from interleaving.
 *
 * <p>The rules follow the CNI spec 1.1.0 and, where the spec leaves room, what
 * the reference library {@code containernetworking/cni/pkg/skel} does, because
 * runtimes are tested against plugins built on it.
 */
package dev.ferry.cni;
