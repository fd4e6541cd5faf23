#!/usr/bin/env python3
"""A scripted POP3 client for what the ordinary ones cannot do: speak from
a chosen loopback address, open with a PROXY protocol header, say STLS
and go on through TLS, pipeline past STLS.

usage: proxy-talk.py [--from ADDR] [--cafile CERT] PORT STEP...

Connects to 127.0.0.1:PORT (from ADDR, say 127.0.0.2, when given) and
runs the steps in order:

    send:TEXT    send TEXT, with \\r \\n \\x00 escapes (no CR LF added)
    hex:HEX      send these bytes
    line         read one line and print it
    multi        read a multi-line answer (to the final dot), print it
    tls          start TLS (the certificate checked against --cafile
                 and the name localhost) and print "TLS <version>"
    shut         end our side (shutdown SHUT_WR): the server reads EOF
    close        read until the server closes; print "CLOSED" and what
                 came before it
    sleep:S      wait S seconds

Each line received is printed as it came, without its CR LF.  A read
that gets nothing for 10 seconds prints "TIMEOUT" and ends the run.
"""
import codecs
import socket
import ssl
import sys
import time


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        self.sock.settimeout(10)
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLError, OSError):
            return None
        return chunk

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.fill()
            if chunk is None:
                raise TimeoutError
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line[:-1] if line.endswith(b"\r") else line


def show(data):
    sys.stdout.write(data.decode("latin-1") + "\n")
    sys.stdout.flush()


def main():
    args = sys.argv[1:]
    source, cafile = None, None
    while args and args[0].startswith("--"):
        if args[0] == "--from":
            source = args[1]
        elif args[0] == "--cafile":
            cafile = args[1]
        args = args[2:]
    port, steps = int(args[0]), args[1:]
    sock = socket.create_connection(
        ("127.0.0.1", port), timeout=10,
        source_address=(source, 0) if source else None)
    c = Conn(sock)
    try:
        for step in steps:
            verb, _, arg = step.partition(":")
            if verb == "send":
                c.sock.sendall(codecs.decode(arg, "unicode_escape")
                               .encode("latin-1"))
            elif verb == "hex":
                c.sock.sendall(bytes.fromhex(arg))
            elif verb == "line":
                show(c.line())
            elif verb == "multi":
                while True:
                    line = c.line()
                    show(line)
                    if line == b"." or line.startswith(b"-ERR"):
                        break
            elif verb == "tls":
                ctx = ssl.create_default_context(cafile=cafile)
                c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
                show(("TLS " + c.sock.version()).encode())
            elif verb == "shut":
                c.sock.shutdown(socket.SHUT_WR)
            elif verb == "close":
                while True:
                    chunk = c.fill()
                    if chunk is None:
                        raise TimeoutError
                    if not chunk:
                        break
                    c.buf += chunk
                for line in c.buf.splitlines():
                    show(line.rstrip(b"\r"))
                c.buf = b""
                show(b"CLOSED")
            elif verb == "sleep":
                time.sleep(float(arg))
    except TimeoutError:
        show(b"TIMEOUT")
    except EOFError:
        for line in c.buf.splitlines():
            show(line.rstrip(b"\r"))
        show(b"CLOSED")
    except (ssl.SSLError, OSError) as e:
        show(("ERROR " + str(e)).encode())


if __name__ == "__main__":
    main()
