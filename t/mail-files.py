#!/usr/bin/env python3
"""Turn mailboxes into one file per message, for byte-for-byte comparison.

usage:
  mail-files.py expected MBOX DIR
      DIR/1, DIR/2 ...: what a POP3 client must save for each message of
      MBOX, by pop3d's rule: a message starts at a line beginning "From "
      at the start of the file or after an empty line; it is the bytes
      after that From_ line up to, not including, the empty line before
      the next From_ line, or up to the end of the file, where one final
      empty line is a separator too.  Lines end in LF
      (a client saves CRLF as LF), ">From " lines stay as stored, and a
      message without a final newline gets one (pop3d ends it in CRLF).
  mail-files.py mboxrd MBOX DIR
      DIR/1 ... from an mbox a client wrote (mpop, getmail): every line
      beginning "From " starts a message, the empty line the writer adds
      after each message is dropped, and one ">" is removed from lines
      matching ^>+From (mboxrd unquoting).
  mail-files.py maildir MAILDIR EXPECTEDDIR DIR
      the files of MAILDIR/new and MAILDIR/cur, each named after the
      number of the expected message with the same Message-ID.
  mail-files.py strip-header DIR NAME PATTERN [POSITION]
      remove the first (or POSITIONth) header field of each file in DIR;
      it must be NAME and the whole field (continuation lines included,
      final LF excluded) must match the regular expression PATTERN.
  mail-files.py add-return-path DIR
      what getmail does to each message of DIR: its Return-Path field
      moves to the top, or "Return-Path: <unknown>" is prepended when it
      has none.
Exits 1 with a message on stderr when something does not fit.
"""
import os
import re
import sys


def write_numbered(directory, messages):
    os.makedirs(directory, exist_ok=True)
    for number, text in enumerate(messages, 1):
        with open(os.path.join(directory, str(number)), "wb") as f:
            f.write(text)


def split_stored(data):
    """The messages of an mbox's bytes, as a client must save them."""
    lines = data.split(b"\n")
    final_newline = lines[-1] == b""
    if final_newline:
        lines.pop()
    starts = [i for i, line in enumerate(lines)
              if line.startswith(b"From ") and (i == 0 or lines[i - 1] == b"")]
    messages = []
    for k, start in enumerate(starts):
        if k + 1 < len(starts):
            end = starts[k + 1] - 1
        elif len(lines) - start > 1 and lines[-1] == b"" and final_newline:
            end = len(lines) - 1	# the file ends in an empty line
        else:
            end = len(lines)
        messages.append(b"".join(line + b"\n"
                                 for line in lines[start + 1:end]))
    return messages


def expected(mbox, directory):
    write_numbered(directory, split_stored(open(mbox, "rb").read()))


def mboxrd(mbox, directory):
    data = open(mbox, "rb").read()
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    messages = []
    current = None
    for line in lines:
        if line.startswith(b"From "):
            if current is not None:
                messages.append(current)
            current = []
        elif current is None:
            sys.exit("mboxrd: %s does not start with a From_ line" % mbox)
        else:
            current.append(re.sub(rb"^>(>*From )", rb"\1", line))
    if current is not None:
        messages.append(current)
    for body in messages:
        if not body or body[-1] != b"":
            sys.exit("mboxrd: a message in %s lacks its final empty line"
                     % mbox)
    write_numbered(directory, [b"".join(line + b"\n" for line in body[:-1])
                               for body in messages])


def message_id(text):
    match = re.search(rb"^Message-ID:\s*(<[^>]*>)", text,
                      re.MULTILINE | re.IGNORECASE)
    return match.group(1) if match else None


def maildir(path, expected_dir, directory):
    wanted = {}
    for name in os.listdir(expected_dir):
        wanted[message_id(open(os.path.join(expected_dir, name),
                               "rb").read())] = name
    os.makedirs(directory, exist_ok=True)
    for sub in ("new", "cur"):
        for name in sorted(os.listdir(os.path.join(path, sub))):
            text = open(os.path.join(path, sub, name), "rb").read()
            number = wanted.pop(message_id(text), None)
            if number is None:
                sys.exit("maildir: %s/%s: unexpected or repeated message"
                         % (sub, name))
            with open(os.path.join(directory, number), "wb") as f:
                f.write(text)


def strip_header(directory, name, pattern, position="1"):
    failed = False
    field_re = re.compile(rb"[^\n]*\n(?:[ \t][^\n]*\n)*")
    for entry in sorted(os.listdir(directory)):
        path = os.path.join(directory, entry)
        text = open(path, "rb").read()
        # Skip the fields before POSITION; a field is its line and the
        # continuation lines after it.
        start = 0
        for _ in range(int(position) - 1):
            start = field_re.match(text, start).end()
        match = field_re.match(text, start)
        field = match.group(0) if match else b""
        if not field.lower().startswith(name.lower().encode() + b":"):
            sys.stderr.write("%s: first field is not %s: %r\n"
                             % (entry, name, field[:80]))
            failed = True
            continue
        if not re.fullmatch(pattern.encode(), field[:-1], re.DOTALL):
            sys.stderr.write("%s: %r does not match %r\n"
                             % (entry, field, pattern))
            failed = True
            continue
        with open(path, "wb") as f:
            f.write(text[:start] + text[start + len(field):])
    sys.exit(1 if failed else 0)


def add_return_path(directory):
    field_re = re.compile(rb"^Return-Path:[^\n]*\n(?:[ \t][^\n]*\n)*",
                          re.MULTILINE | re.IGNORECASE)
    for entry in sorted(os.listdir(directory)):
        path = os.path.join(directory, entry)
        text = open(path, "rb").read()
        end = text.find(b"\n\n") + 1 or len(text)
        match = field_re.search(text, 0, end)
        if match:
            text = match.group(0) + text[:match.start()] + text[match.end():]
        else:
            text = b"Return-Path: <unknown>\n" + text
        with open(path, "wb") as f:
            f.write(text)


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "expected":
        expected(*args)
    elif command == "mboxrd":
        mboxrd(*args)
    elif command == "maildir":
        maildir(*args)
    elif command == "strip-header":
        strip_header(*args)
    elif command == "add-return-path":
        add_return_path(*args)
    else:
        sys.exit("mail-files.py: unknown command " + command)


if __name__ == "__main__":
    main()
