#!/usr/bin/env python3
"""Real TCP for the LB namespace test (lb_maglev.sh).

server ADDR:PORT...   listens on every address; answers each line "TOKEN" with
                      "TOKEN backend=ADDR:PORT" (the local address the connection reached,
                      i.e. the backend the gateway's DNAT chose); prints "listening" when ready.
client --vip IP:PORT --source IP [--timeout-ms MS]
                      reads commands from stdin, one result block per command:
  open GROUP FIRST_PORT COUNT  connects COUNT sockets bound to SOURCE:FIRST_PORT.. (all at
                               once), asks each who answered; prints "conn GROUP SPORT BACKEND"
                               per socket ("-" when it failed), then "open GROUP ok=N fail=M"
  probe GROUP                  a token on every socket of the group; "pconn GROUP SPORT BACKEND"
                               per socket, then "probe GROUP ok=N fail=M"
  reset GROUP                  closes the group with RST (SO_LINGER 0): no TIME_WAIT, so the
                               same ports can connect again; "reset GROUP ok=CLOSED fail=0"
  quit
Single-threaded, non-blocking sockets under one selector; every wait has a deadline.
"""
import selectors
import socket
import struct
import sys
import time


def split_endpoint(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def serve(endpoints):
    sel = selectors.DefaultSelector()
    for text in endpoints:
        host, port = split_endpoint(text)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        ls = socket.socket(family, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, port))
        ls.listen(1024)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, None)
    print("listening", flush=True)
    buffers = {}
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            if key.data is None:
                try:
                    conn, _ = sock.accept()
                except OSError:
                    continue
                conn.setblocking(False)
                local = conn.getsockname()
                name = ("[%s]:%d" if conn.family == socket.AF_INET6 else "%s:%d") % local[:2]
                sel.register(conn, selectors.EVENT_READ, name)
                buffers[conn] = b""
                continue
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(sock)
                buffers.pop(sock, None)
                sock.close()
                continue
            buffers[sock] += data
            while b"\n" in buffers[sock]:
                line, buffers[sock] = buffers[sock].split(b"\n", 1)
                reply = line + b" backend=" + key.data.encode() + b"\n"
                try:
                    sock.send(reply)
                except OSError:
                    pass


class Client:
    def __init__(self, vip, source, timeout):
        self.vip = split_endpoint(vip)
        self.source = source
        self.timeout = timeout
        self.family = socket.AF_INET6 if ":" in source else socket.AF_INET
        self.groups = {}  # name -> {sport: socket or None}
        self.token = 0

    def exchange(self, socks):
        """Sends a token on each socket, waits for the answers; {sport: backend or None}."""
        sel = selectors.DefaultSelector()
        result = {sport: None for sport in socks}
        pending = {}
        for sport, s in socks.items():
            if s is None:
                continue
            self.token += 1
            token = b"t%d" % self.token
            try:
                s.send(token + b"\n")
            except OSError:
                continue
            pending[s] = (sport, token, b"")
            sel.register(s, selectors.EVENT_READ)
        deadline = time.monotonic() + self.timeout
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
                s = key.fileobj
                sport, token, buf = pending[s]
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    del pending[s]
                    continue
                buf += data
                pending[s] = (sport, token, buf)
                if b"\n" in buf:
                    line = buf.split(b"\n", 1)[0].decode()
                    parts = line.split(" backend=")
                    if len(parts) == 2 and parts[0] == token.decode():
                        result[sport] = parts[1]
                    sel.unregister(s)
                    del pending[s]
        sel.close()
        return result

    def open(self, group, first, count):
        socks = {}
        sel = selectors.DefaultSelector()
        for sport in range(first, first + count):
            s = socket.socket(self.family, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.source, sport))
            s.setblocking(False)
            s.connect_ex(self.vip)
            socks[sport] = s
            sel.register(s, selectors.EVENT_WRITE, sport)
        deadline = time.monotonic() + self.timeout
        waiting = set(socks)
        while waiting and time.monotonic() < deadline:
            for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
                sport = key.data
                sel.unregister(key.fileobj)
                waiting.discard(sport)
                if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    key.fileobj.close()
                    socks[sport] = None
        for sport in waiting:
            sel.unregister(socks[sport])
            socks[sport].close()
            socks[sport] = None
        sel.close()
        self.groups[group] = socks
        return self.report("conn", "open", group, self.exchange(socks))

    def probe(self, group):
        return self.report("pconn", "probe", group, self.exchange(self.groups.get(group, {})))

    def reset(self, group):
        closed = 0
        for s in self.groups.pop(group, {}).values():
            if s is not None:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                closed += 1
        print("reset %s ok=%d fail=0" % (group, closed), flush=True)

    @staticmethod
    def report(line_kind, what, group, result):
        ok = sum(1 for b in result.values() if b is not None)
        out = ["%s %s %d %s" % (line_kind, group, sport, result[sport] or "-")
               for sport in sorted(result)]
        out.append("%s %s ok=%d fail=%d" % (what, group, ok, len(result) - ok))
        print("\n".join(out), flush=True)


def main(argv):
    if len(argv) >= 2 and argv[1] == "server":
        serve(argv[2:])
        return 0
    if len(argv) < 2 or argv[1] != "client":
        sys.stderr.write(__doc__)
        return 2
    opts = dict(zip(argv[2::2], argv[3::2]))
    client = Client(opts["--vip"], opts["--source"], int(opts.get("--timeout-ms", "3000")) / 1000)
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "open":
            client.open(words[1], int(words[2]), int(words[3]))
        elif words[0] == "probe":
            client.probe(words[1])
        elif words[0] == "reset":
            client.reset(words[1])
        elif words[0] == "quit":
            break
        else:
            print("error unknown command %s" % words[0], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
