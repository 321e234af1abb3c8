/**
 * The CNI protocol as the agent speaks it: a forwarded invocation becomes a
 * validated {@link dev.ferry.cni.CniRequest} (environment plus
 * {@link dev.ferry.cni.NetworkConfig}), {@link dev.ferry.cni.CniService} runs it
 * over the endpoint manager, one lock per container
 * ({@link dev.ferry.cni.ContainerLocks}), and answers a
 * {@link dev.ferry.cni.CniReply}: a {@link dev.ferry.cni.CniResult}, a
 * {@link dev.ferry.cni.CniError} or the VERSION answer, each rendered in the
 * shape of the configuration's {@code cniVersion}. No transport here: the
 * socket's HTTP side of {@code POST /v1/cni} is {@code dev.ferry.api.CniRoute}.
 *
 * <p>The rules follow the CNI spec 1.1.0 and, where the spec leaves room, what
 * the reference library {@code containernetworking/cni/pkg/skel} does, because
 * runtimes are tested against plugins built on it.
 */
package dev.ferry.cni;
