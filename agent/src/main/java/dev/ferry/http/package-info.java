/**
 * What the agent's two HTTP servers (the agent socket, dev.ferry.api, and the
 * metrics port, dev.ferry.metrics) share about holding connections: a cap on
 * open connections and the closing of idle ones. No routes, no domain.
 */
package dev.ferry.http;
