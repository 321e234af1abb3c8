package dev.ferry.endpoint;

import java.util.BitSet;
import java.util.Collection;

/**
 * Ids that per-endpoint counters are kept under. The lowest free id is reused:
 * DEL deletes an endpoint's counters before its id is freed, so a reused id
 * starts from zero. 0 is never handed out (the programs read it as "no endpoint").
 */
final class EndpointIds {
    private final BitSet used = new BitSet();

    EndpointIds(Collection<Endpoint> existing) {
        used.set(0);
        existing.forEach(e -> used.set(e.endpointId()));
    }

    synchronized int allocate() {
        int id = used.nextClearBit(1);
        if (id < 0) {
            throw new IllegalStateException("endpoint ids exhausted");
        }
        used.set(id);
        return id;
    }

    synchronized void free(int id) {
        if (id > 0) {
            used.clear(id);
        }
    }
}
