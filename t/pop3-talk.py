#!/usr/bin/env python3
"""Send a scripted POP3 session and keep what comes back.

usage: pop3-talk.py [--tls] [--save DIR] PORT < commands
       pop3-talk.py [--save DIR] --exec COMMAND... < commands

Connects to 127.0.0.1:PORT (through TLS with --tls, certificate not
checked) or runs COMMAND with a socket pair on its standard input and
output, as inetd would.  Waits for the greeting, sends all command lines
from stdin at once (LF becomes CRLF), as a pipelining client does, and
prints every byte the server sends until it closes the connection.

With --save DIR, each answer is also written apart: DIR/0 is the greeting,
DIR/K the status line of the Kth command, and DIR/K.body, for a multi-line
answer, its lines with the dot-stuffing undone and LF line ends, as a
client would save them.

Gives up after 10 seconds so that a test never hangs.
"""
import os
import socket
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True	# no __pycache__ left in t/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import parse_answers  # noqa: E402


def save_answers(received, commands, directory):
    os.makedirs(directory, exist_ok=True)
    greeting, answers = parse_answers(received, commands)
    if greeting is None:
        return
    with open(os.path.join(directory, "0"), "wb") as f:
        f.write(greeting + b"\n")
    for number, answer in enumerate(answers, 1):
        with open(os.path.join(directory, str(number)), "wb") as f:
            f.write(answer.status + b"\n")
        if answer.body is not None:
            with open(os.path.join(directory, "%d.body" % number),
                      "wb") as f:
                f.write(answer.body)


def main():
    args = sys.argv[1:]
    use_tls = False
    save_dir = None
    command = None
    while args and args[0].startswith("--"):
        option = args.pop(0)
        if option == "--tls":
            use_tls = True
        elif option == "--save":
            save_dir = args.pop(0)
        elif option == "--exec":
            command = args
            args = []
        else:
            sys.exit("pop3-talk.py: unknown option " + option)
    script = sys.stdin.buffer.read().replace(b"\r\n", b"\n")
    commands = [c for c in script.split(b"\n") if c]
    script = b"".join(c + b"\r\n" for c in commands)

    deadline = time.monotonic() + 10
    child = None
    if command:
        sock, theirs = socket.socketpair()
        child = subprocess.Popen(command, stdin=theirs, stdout=theirs)
        theirs.close()
    else:
        sock = socket.create_connection(("127.0.0.1", int(args[0])),
                                        timeout=10)
        if use_tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock)
    received = b""
    try:
        while b"\r\n" not in received:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        if script and b"\r\n" in received:
            sock.sendall(script)
        while time.monotonic() < deadline:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    except (socket.timeout, ssl.SSLError, ConnectionResetError,
            BrokenPipeError):
        pass
    sock.close()
    if child:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    sys.stdout.buffer.write(received)
    if save_dir:
        save_answers(received, commands, save_dir)


if __name__ == "__main__":
    main()
