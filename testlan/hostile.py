#!/usr/bin/env python3
"""The test LAN's hostile services (testlan/testlan.sh starts them in their namespaces).

    hostile.py trickle  ADDR PORT   accepts; sends one byte every 50 ms, forever
    hostile.py flood    ADDR PORT   accepts; sends 8 MiB of banner, then closes
    hostile.py tlsstall ADDR PORT   accepts; reads the ClientHello; sends half a ServerHello; stalls
    hostile.py junk     ADDR PORT   accepts; greets with terminal escapes, then never speaks again
    hostile.py lategreet ADDR PORT  an SMTP server that greets after 1.5 s (as one that looks the
                                    client's name up first) and, like Exim, hangs up with a 554
                                    on a client that speaks before the greeting
    hostile.py udp      ADDR        161/udp: malformed BER; 53/udp: PTR answers with hostile names
                                    (control characters, 63-byte labels, a 253-byte name) for
                                    10.77.2.0/24, and malformed DNS to anything else; 1900/udp:
                                    40 SSDP answers to one M-SEARCH, with terminal escapes, a
                                    4 KiB header, and LOCATIONs on other hosts (never to be
                                    fetched) or on a port of its own where nothing listens

Every connection gets a thread of its own and lives at most five minutes; nothing here ever
reads more than 64 KiB from a peer.
"""

import socket
import sys
import threading
import time

HOLD = 300  # seconds a stalled connection is kept open


def serve_tcp(addr, port, handle):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(512)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=guarded, args=(handle, conn), daemon=True).start()


def guarded(handle, conn):
    try:
        conn.settimeout(HOLD)
        handle(conn)
    except OSError:
        pass
    finally:
        conn.close()


def trickle(conn):
    end = time.monotonic() + HOLD
    while time.monotonic() < end:
        conn.sendall(b"a")
        time.sleep(0.05)


def flood(conn):
    chunk = b"220 " + b"A" * 65532
    for _ in range(128):  # 8 MiB
        conn.sendall(chunk)


def tlsstall(conn):
    conn.recv(65536)  # the ClientHello
    # A handshake record announcing 122 bytes, of which only the first 10 ever come.
    conn.sendall(b"\x16\x03\x03\x00\x7a" + b"\x02\x00\x00\x76\x03\x03" + b"\x00" * 4)
    time.sleep(HOLD)


def junk(conn):
    conn.sendall(b"\x1b[2J\x1b]0;owned\x07\x1b[31mhello\x1b[0m\r\n")
    time.sleep(HOLD)


LATE = 1.5  # seconds before lategreet's greeting


def lategreet(conn):
    conn.settimeout(LATE)
    try:
        early = conn.recv(4096)
    except socket.timeout:
        early = None
    conn.settimeout(HOLD)
    if early is not None:
        # Spoke first (or hung up): a synchronization error, as Exim answers it.
        if early:
            conn.sendall(b"554 SMTP synchronization error\r\n")
        return
    conn.sendall(b"220 mail.lab.test ESMTP Postfix (Debian/GNU)\r\n")
    f = conn.makefile("rb")
    for _ in range(100):
        line = f.readline(1024)
        if not line:
            return
        if line[:4].upper() in (b"EHLO", b"HELO"):
            conn.sendall(b"250-mail.lab.test\r\n250 8BITMIME\r\n")
        elif line[:4].upper() == b"QUIT":
            conn.sendall(b"221 2.0.0 Bye\r\n")
            return
        else:
            conn.sendall(b"502 5.5.2 Error: command not recognized\r\n")


# PTR names of the hostile hosts (last octet of 10.77.2.x), as raw labels.
NAMES = {
    30: [b"\x1b[31mmute\x1b[0m", b"evil", b"test"],
    31: [b"a" * 63, b"b" * 63, b"c" * 63, b"d" * 61],  # 253 characters: the longest name
    32: [b"flood\r\n\x07bell", b"evil", b"test"],
    33: [b"tls\x08\x08\x08stall", b"evil", b"test"],
    34: [b"=1+2", b"every", b"evil", b"test"],
}


def dns_name(labels):
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\x00"


def dns_answer(q):
    if len(q) < 12:
        return None
    ident, qd = q[:2], int.from_bytes(q[4:6], "big")
    # The question's name and type.
    pos, labels = 12, []
    while pos < len(q) and q[pos] != 0 and len(labels) < 128:
        n = q[pos]
        labels.append(q[pos + 1 : pos + 1 + n])
        pos += 1 + n
    qtype = int.from_bytes(q[pos + 1 : pos + 3], "big")
    question = q[12 : pos + 5]
    rev = b".".join(labels).lower()
    if qd == 1 and qtype == 12 and rev.endswith(b".2.77.10.in-addr.arpa"):
        try:
            last = int(labels[0])
        except ValueError:
            last = -1
        name = NAMES.get(last)
        if name is None:
            return ident + b"\x81\x83\x00\x01\x00\x00\x00\x00\x00\x00" + question
        rdata = dns_name(name)
        rr = b"\xc0\x0c\x00\x0c\x00\x01\x00\x00\x00\x3c" + len(rdata).to_bytes(2, "big") + rdata
        return ident + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + question + rr
    # Anything else: 65535 answers claimed, a question that points at itself.
    return ident + b"\x81\x80\x00\x01\xff\xff\x00\x00\x00\x00" + b"\xc0\x0c\x00\x10\x00\x03"


# An SNMP "response" whose outer length claims 4 GiB, then a truncated integer.
BAD_BER = b"\x30\x84\xff\xff\xff\xff\x02\x01\x01\x04\x06public\xa2\x82\xff\xff\x02\x04"


def nbstat_answer(q):
    """A NetBIOS node status answer that claims 255 names and gives two: one full of terminal
    escapes, one plain."""
    if len(q) < 50:
        return None
    names = b"\x1b]0;pwned\x07\x1b[2J\x00" + b"\x00\x04\x00"
    names += b"BADUDP".ljust(15) + b"\x20\x04\x00"
    rdata = b"\xff" + names
    return (q[:2] + b"\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00" + q[12:50]
            + b"\x00\x00\x00\x00" + len(rdata).to_bytes(2, "big") + rdata)


def ssdp_answers(q):
    """Forty answers to one M-SEARCH: more than a scanner should read, none worth following."""
    if not q.startswith(b"M-SEARCH"):
        return None
    out = []
    for i in range(40):
        loc = [b"http://10.77.0.10/description.xml", b"http://127.0.0.1:8080/d.xml",
               b"http://10.77.2.35:9/d.xml", b"file:///etc/passwd"][i % 4]
        out.append(b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:bad-%d\r\n"
                   b"SERVER: \x1b]0;pwned\x07\x1b[31mEvil/1.0 UPnP/1.0\r\nLOCATION: %s\r\n"
                   b"X-PAD: %s\r\n\r\n" % (i, loc, b"A" * 4000))
    return out


def serve_udp(addr, port, answer):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    while True:
        q, peer = s.recvfrom(65536)
        try:
            a = answer(q)
        except Exception:  # a malformed query gets no answer
            a = None
        for one in ([a] if isinstance(a, bytes) else a or []):
            s.sendto(one, peer)


def main():
    mode, addr = sys.argv[1], sys.argv[2]
    if mode == "udp":
        threading.Thread(target=serve_udp, args=(addr, 161, lambda q: BAD_BER), daemon=True).start()
        # mDNS gets the malformed DNS answers too; NetBIOS a short, escape-laden name table.
        threading.Thread(target=serve_udp, args=(addr, 5353, dns_answer), daemon=True).start()
        threading.Thread(target=serve_udp, args=(addr, 137, nbstat_answer), daemon=True).start()
        threading.Thread(target=serve_udp, args=(addr, 1900, ssdp_answers), daemon=True).start()
        serve_udp(addr, 53, dns_answer)
        return
    handlers = {"trickle": trickle, "flood": flood, "tlsstall": tlsstall, "junk": junk,
                "lategreet": lategreet}
    serve_tcp(addr, int(sys.argv[3]), handlers[mode])


if __name__ == "__main__":
    main()
