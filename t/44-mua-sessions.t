#!/usr/bin/env python3
"""Outlook's and Thunderbird's known POP3 behaviour, as scripted sessions.

Neither client can run here, so their command sequences are replayed: each
session is piped into ./pop3d -f MBOX -p PASSWD and the answers are
checked.  The behaviours modelled:

Thunderbird (Pop3Client): CAPA first, to choose the authentication and to
  learn whether TOP and UIDL exist; older versions send a bare AUTH before
  it to list SASL mechanisms and go on when it fails.  Then STAT, LIST,
  UIDL.  "Leave messages on server" keeps the UIDs (popstate.dat) and on
  the next check fetches only messages whose UID is new; "fetch headers
  only" uses TOP n 0, and a message over the size limit is fetched as
  TOP n 20; a message deleted in the client is removed on the next check
  by DELE of the number whose UID matches.
Outlook: CAPA, then with "Secure Password Authentication" AUTH NTLM, which
  must fail cleanly and leave USER/PASS possible; then STAT, LIST, UIDL,
  RETR of each new message; "leave a copy on the server" and "remove after
  N days" work from UIDL alone, across sessions and across new deliveries.
"""
import importlib.util
import os
import shutil
import sys

sys.dont_write_bytecode = True	# no __pycache__ left in t/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import FIXTURES, TOP, Tap, need_pop3d, read, talk, tmpdir  # noqa

spec = importlib.util.spec_from_file_location(
    "mail_files", os.path.join(TOP, "t", "mail-files.py"))
mail_files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mail_files)

tap = Tap()
need_pop3d(tap)

tmp = tmpdir("mua-sessions")
mbox = os.path.join(tmp, "mbox")
passwd = os.path.join(FIXTURES, "clients.passwd")
shutil.copyfile(os.path.join(FIXTURES, "clients.mbox"), mbox)
stored = read(mbox)
expected = mail_files.split_stored(stored)


def client(commands):
    """A client's session, its commands piped into pop3d at once:
    (greeting, answers, the ended process)."""
    return talk(["-f", mbox, "-p", passwd], commands, timeout=30)


def by_command(answers):
    """The answers, found by their command text."""
    return {a.command: a for a in answers}


def uid_map(answer):
    """UIDL listing: {number: uid}."""
    return {int(n): u for n, u in
            (line.split() for line in answer.body.splitlines())}


def login():
    return ["USER alice", "PASS wonderland"]


# ---- Thunderbird: first check, leave messages on server ----

count = len(expected)
commands = ["CAPA"] + login() + ["STAT", "LIST", "UIDL"] + \
    ["RETR %d" % n for n in range(1, count + 1)] + ["QUIT"]
greeting, answers, result = client(commands)
a = by_command(answers)
tap.ok(greeting is not None and greeting.startswith(b"+OK"),
       "Thunderbird: greeting", greeting)
capabilities = a["CAPA"].body.split(b"\n") if a["CAPA"].body else []
tap.ok(a["CAPA"].ok and b"TOP" in capabilities and b"UIDL" in capabilities
       and b"USER" in capabilities,
       "Thunderbird: CAPA before login shows TOP, UIDL, USER", a["CAPA"].body)
tap.ok(a["PASS wonderland"].ok, "Thunderbird: USER/PASS login",
       a["PASS wonderland"].status)
tap.ok(a["STAT"].status.split()[1:2] == [str(count).encode()],
       "Thunderbird: STAT", a["STAT"].status)
sizes = [int(line.split()[1]) for line in a["LIST"].body.splitlines()]
tap.ok(sizes == [len(m) + m.count(b"\n") for m in expected],
       "Thunderbird: LIST sizes are what RETR sends", sizes)
first_uids = uid_map(a["UIDL"])
tap.ok(sorted(first_uids) == list(range(1, count + 1))
       and len(set(first_uids.values())) == count,
       "Thunderbird: UIDL gives every message a distinct id", first_uids)
tap.ok(all(a["RETR %d" % n].body == expected[n - 1]
           for n in range(1, count + 1)),
       "Thunderbird: RETR of each message as stored")
tap.ok(a["QUIT"].ok and read(mbox) == stored,
       "Thunderbird: leave on server: mailbox byte-identical after QUIT")

# ---- Thunderbird: next check finds the same UIDs, fetches nothing ----

greeting, answers, _ = client(["CAPA"] + login() +
                              ["STAT", "LIST", "UIDL", "QUIT"])
a = by_command(answers)
tap.ok(uid_map(a["UIDL"]) == first_uids,
       "Thunderbird: the next check sees the same UIDs (nothing to fetch)")

# ---- Thunderbird (older): bare AUTH probe, headers only, size limit ----

commands = ["AUTH", "CAPA"] + login() + ["STAT", "LIST", "UIDL", "TOP 1 0",
                                      "TOP 5 20", "TOP 4 0", "QUIT"]
greeting, answers, _ = client(commands)
a = by_command(answers)
tap.ok(len(answers) == len(commands) and a["PASS wonderland"].ok
       and a["QUIT"].ok,
       "Thunderbird: a bare AUTH probe leaves the session usable",
       [x.status for x in answers])
header_1 = expected[0].split(b"\n\n", 1)[0] + b"\n\n"
tap.ok(a["TOP 1 0"].body == header_1, "Thunderbird: headers only: TOP 1 0",
       a["TOP 1 0"].body)
tap.ok(a["TOP 5 20"].body == expected[4],
       "Thunderbird: over the size limit: TOP 5 20 (a body of 2 lines: all)",
       a["TOP 5 20"].body)
tap.ok(a["TOP 4 0"].body == expected[3],
       "Thunderbird: TOP 4 0 of an empty-bodied message", a["TOP 4 0"].body)

# ---- Thunderbird: messages deleted in the client go at the next check ----

doomed = {first_uids[3], first_uids[5]}
greeting, answers, _ = client(login() + ["UIDL"])
numbers = [n for n, u in uid_map(answers[2]).items() if u in doomed]
greeting, answers, _ = client(login() + ["UIDL"] +
                              ["DELE %d" % n for n in numbers] + ["QUIT"])
tap.ok(len(numbers) == 2 and all(x.ok for x in answers),
       "Thunderbird: DELE by UID and QUIT", [x.status for x in answers])
greeting, answers, _ = client(login() + ["UIDL", "QUIT"])
after = uid_map(answers[2])
tap.ok(sorted(after.values()) == sorted(u for u in first_uids.values()
                                        if u not in doomed),
       "Thunderbird: the other UIDs unchanged after the deletion", after)
kept = [m for i, m in enumerate(expected) if i + 1 not in (3, 5)]
tap.ok(mail_files.split_stored(read(mbox)) == kept,
       "Thunderbird: the kept messages byte for byte")

# ---- Outlook: CAPA, SPA probe (AUTH NTLM), USER/PASS ----

shutil.copyfile(os.path.join(FIXTURES, "clients.mbox"), mbox)
greeting, answers, _ = client(["CAPA", "AUTH NTLM"] + login() +
                              ["STAT", "LIST", "UIDL", "RETR 1", "QUIT"])
a = by_command(answers)
tap.ok(not a["AUTH NTLM"].ok and a["PASS wonderland"].ok,
       "Outlook: AUTH NTLM refused, USER/PASS still works",
       [x.status for x in answers])
tap.ok(a["RETR 1"].body == expected[0], "Outlook: RETR 1 as stored")
tap.ok(uid_map(a["UIDL"]) == first_uids, "Outlook: the same UIDs as before")

# ---- Outlook: leave a copy, new mail arrives, remove after N days ----

new_message = (b"From zoe@example.org Sat Jan 11 08:00:00 2025\n"
               b"From: Zoe <zoe@example.org>\nTo: Alice <alice@example.org>\n"
               b"Subject: delivered later\nMessage-ID: <later@example.org>\n"
               b"\nNew mail.\n")
with open(mbox, "ab") as f:
    f.write(b"\n\n" + new_message)	# the old last message lacked its LF
greeting, answers, _ = client(login() + ["STAT", "UIDL", "QUIT"])
uids = uid_map(answers[3])
new_uids = [u for u in uids.values() if u not in first_uids.values()]
tap.ok(len(uids) == count + 1 and len(new_uids) == 1
       and all(uids[n] == first_uids[n] for n in first_uids),
       "Outlook: after a delivery the old UIDs stand and one is new", uids)
greeting, answers, _ = client(login() + ["UIDL", "RETR %d" % (count + 1),
                                         "DELE 1", "DELE 2", "QUIT"])
tap.ok(answers[3].body == new_message.split(b"\n", 1)[1],
       "Outlook: the new message as delivered", answers[3].body)
tap.ok(all(x.ok for x in answers), "Outlook: remove after N days: DELE 1 2")
greeting, answers, _ = client(login() + ["UIDL", "QUIT"])
uids = uid_map(answers[2])
tap.ok(sorted(uids.values()) == sorted([first_uids[n] for n in
                                        range(3, count + 1)] + new_uids),
       "Outlook: UIDs after the removal", uids)

tap.done()
