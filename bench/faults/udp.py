#!/usr/bin/env python3
"""UDP with sequence numbers, run inside a pod's namespace (nsenter --net=...):

  udp.py send --to IP --port P --rate 10000     # until SIGTERM; then prints {"sent": ..., ...}
  udp.py recv --bind IP --port P                # until SIGTERM; then prints what arrived and what is missing

Each datagram carries a 64-bit sequence number. The receiver keeps a bitmap of
the numbers it saw, so the record says how many datagrams were lost and in how
many gaps, and tells loss from reordering and duplication. Its socket buffer
is made large (SO_RCVBUFFORCE) so that a receiver starved of CPU for a moment
(an agent's JVM starting on the same two cores) does not drop datagrams that
the datapath delivered; the kernel's own count of such drops is reported too.
"""
import argparse
import json
import signal
import socket
import struct
import sys
import time

SO_RCVBUFFORCE = 33
SEQ = struct.Struct("!Q")


# Set by SIGTERM. A flag, not an exception: an exception between a send() and its count would be off by one.
stopping = False


def on_term(*_):
    global stopping
    stopping = True


def send(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((args.to, args.port))
    payload = bytes(args.size - SEQ.size)
    sent = errors = 0
    error_kinds = {}
    start = time.monotonic()
    while not stopping:
        # Paced by the clock: whatever is due is sent now, so a sender that lost the CPU catches up.
        due = int((time.monotonic() - start) * args.rate)
        while sent + errors < due:
            try:
                s.send(SEQ.pack(sent + errors) + payload)
                sent += 1
            except OSError as e:
                # A datagram the kernel refused (no route, no buffer): it carried its number, so the
                # receiver counts it as lost too; errors says why.
                errors += 1
                error_kinds[e.strerror] = error_kinds.get(e.strerror, 0) + 1
        time.sleep(0.0005)
    elapsed = time.monotonic() - start
    print(json.dumps({"sent": sent, "send_errors": errors, "error_kinds": error_kinds, "seconds": round(elapsed, 3),
                      "rate": round((sent + errors) / elapsed) if elapsed else 0}), flush=True)


def recv(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    s.bind((args.bind, args.port))
    s.settimeout(0.2)          # so that the stop flag is looked at while nothing arrives
    seen = bytearray(1 << 20)
    received = duplicates = reordered = 0
    highest = -1
    print(json.dumps({"listening": True}), flush=True)
    while not stopping:
        try:
            data = s.recv(2048)
        except socket.timeout:
            continue
        if len(data) < SEQ.size:
            continue
        seq = SEQ.unpack_from(data)[0]
        if seq >= len(seen) * 8:
            seen.extend(bytes(max(len(seen), seq // 8 + 1 - len(seen))))
        byte, bit = divmod(seq, 8)
        if seen[byte] >> bit & 1:
            duplicates += 1
            continue
        seen[byte] |= 1 << bit
        received += 1
        if seq < highest:
            reordered += 1
        highest = max(highest, seq)
    gaps = []
    missing = 0
    run_start = None
    for seq in range(highest + 1):
        present = seen[seq // 8] >> (seq % 8) & 1
        if not present:
            missing += 1
            if run_start is None:
                run_start = seq
        elif run_start is not None:
            gaps.append([run_start, seq - 1])
            run_start = None
    print(json.dumps({"received": received, "highest": highest, "missing": missing, "gaps": len(gaps),
                      "first_gaps": gaps[:10], "duplicates": duplicates, "reordered": reordered}), flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    ps = sub.add_parser("send")
    ps.add_argument("--to", required=True)
    ps.add_argument("--port", type=int, required=True)
    ps.add_argument("--rate", type=int, default=10000)
    ps.add_argument("--size", type=int, default=64)
    pr = sub.add_parser("recv")
    pr.add_argument("--bind", required=True)
    pr.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    send(args) if args.mode == "send" else recv(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
