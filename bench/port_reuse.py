#!/usr/bin/env python3
"""Source ports reused after a Service: what a client does when an ephemeral
port it last used to reach a backend through a Service (DNAT, the entry stays
in conntrack, 120 s in TIME_WAIT for TCP) comes up again for a connection to
the same backend directly (headless Services do this routinely).

  port_reuse.py serve ADDRESS PORT
      in the backend pod: echoes TCP lines and UDP datagrams on ADDRESS:PORT
      until killed.
  port_reuse.py client --proto tcp|udp --source ADDRESS --service VIP:PORT
                       --backend ADDRESS:PORT --seconds S --first-port P --ports N
      in the client pod: for S seconds (at most N ports), from a fresh source
      port each time (P, P+1, ...),
      talks to the Service, then to the backend directly from the same port.
      A direct exchange fails when it times out, is refused or reset, or (UDP)
      when the answer comes from another address than the backend's. Prints one
      JSON object: direct attempts, direct failures, Service failures.

Python standard library only; bench/run.sh starts it under nsenter.
"""
import argparse
import errno
import json
import socket
import socketserver
import sys
import threading
import time

TIMEOUT_S = 1.0


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        # One line back, then wait for the client's FIN: the client closes first.
        self.wfile.write(self.rfile.readline())
        self.rfile.read()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def serve(address, port):
    tcp = Server((address, port), Echo)
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((address, port))
    while True:
        data, peer = udp.recvfrom(64)
        udp.sendto(data, peer)


def bound(kind, source, port):
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((source, port))
    s.settimeout(TIMEOUT_S)
    return s


class PortTaken(Exception):
    """The client's own port is not free (a socket of an earlier exchange still holds it): not a datapath's failure."""


def bound_or_taken(kind, source, port):
    try:
        return bound(kind, source, port)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise PortTaken() from e
        raise


def tcp_exchange(source, port, dst):
    s = bound_or_taken(socket.SOCK_STREAM, source, port)
    try:
        s.connect(dst)
        s.sendall(b"ping\n")
        return s.recv(16) == b"ping\n"
    except OSError:
        return False
    finally:
        s.close()


def udp_exchange(source, port, dst):
    s = bound_or_taken(socket.SOCK_DGRAM, source, port)
    try:
        s.sendto(b"ping", dst)
        data, peer = s.recvfrom(64)
        return data == b"ping" and peer == dst
    except OSError:
        return False
    finally:
        s.close()


def client(args):
    exchange = tcp_exchange if args.proto == "tcp" else udp_exchange
    service, backend = addr(args.service), addr(args.backend)
    attempts = failed = service_failed = taken = 0
    port = args.first_port
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline and port < min(args.first_port + args.ports, 65536):
        try:
            if not exchange(args.source, port, service):
                service_failed += 1
            else:
                direct = exchange(args.source, port, backend)
                attempts += 1
                failed += not direct
        except PortTaken:
            taken += 1
        port += 1
    json.dump({"proto": args.proto, "direct": attempts, "failed": failed, "service_failed": service_failed,
               "port_taken": taken}, sys.stdout)
    print()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("address")
    s.add_argument("port", type=int)
    c = sub.add_parser("client")
    c.add_argument("--proto", choices=("tcp", "udp"), required=True)
    c.add_argument("--source", required=True)
    c.add_argument("--service", required=True)
    c.add_argument("--backend", required=True)
    c.add_argument("--seconds", type=float, required=True)
    c.add_argument("--first-port", type=int, required=True)
    c.add_argument("--ports", type=int, required=True)
    args = p.parse_args()
    if args.command == "serve":
        serve(args.address, args.port)
    else:
        client(args)


if __name__ == "__main__":
    main()
