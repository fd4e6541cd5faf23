#!/usr/bin/env python3
"""A syslog daemon for tests: syslog-listen.py SOCKET OUT binds the unix
datagram socket SOCKET (a private /dev/log) and appends each datagram and
a newline to OUT, for at most 120 seconds."""
import socket
import sys
import time

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
end = time.time() + 120
with open(sys.argv[2], 'ab', buffering=0) as out:
    while time.time() < end:
        try:
            out.write(s.recv(4096) + b'\n')
        except socket.timeout:
            pass
