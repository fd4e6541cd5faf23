#!/usr/bin/env python3
# Concurrent sessions and a mailbox changed under a session.  A second
# session on a mailbox a first still holds gets -ERR [IN-USE] and changes
# nothing; many sessions started at once each delete what they saw, and
# the file stays a run of whole, untouched messages.  A mailbox changed
# during the session other than by appending mail is left alone and QUIT
# answers -ERR [SYS/TEMP] with a reason.
import os
import shutil
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mboxsafe as ms  # noqa: E402
from pop3lib import Tap, need_pop3d  # noqa: E402

tap = Tap()
need_pop3d(tap)
K = 1024

d, mbox, passwd, log = ms.workfiles('inuse')
box = ms.Mailbox([ms.message(i, n) for i, n in
                  enumerate([5 * K, 150 * K, 7 * K, 9 * K], 1)])

# Two sessions at once.
ms.clean_mailbox(mbox, box.data())
first = ms.session(mbox, passwd, log=log)
ok1 = first.login()
tap.ok(ok1 is not None and ok1.startswith(b'+OK'), 'first session logs in',
       ok1)
first.cmd('DELE 2')
second = ms.session(mbox, passwd, log=log)
ok2 = second.login()
tap.ok(ok2 is not None and ok2.startswith(b'-ERR [IN-USE]'),
       'second session on the same mailbox: -ERR [IN-USE]', ok2)
q2 = second.cmd('QUIT')
second.finish()
tap.ok(q2 is not None and q2.startswith(b'+OK') and
       ms.read_file(mbox) == box.data() and
       os.path.exists(mbox + '.pop3d'),
       '... it quits having changed nothing, the first one\'s lock '
       'file still there', q2)
q1 = first.cmd('QUIT')
first.finish()
tap.ok(q1 is not None and q1.startswith(b'+OK') and
       ms.read_file(mbox) == box.without({2}),
       'the first session\'s deletion is made at its QUIT', q1)
ok3, st3, _ = ms.stat_of(mbox, passwd)
tap.ok(ok3 is not None and ok3.startswith(b'+OK') and
       not os.path.exists(mbox + '.pop3d'),
       'after both, a new session opens it; no lock file remains', ok3)

# Many sessions at once, each deleting its first message.
n = 12
many = ms.Mailbox([ms.message(i, 2 * K + i * 300) for i in range(1, n + 1)])
ms.clean_mailbox(mbox, many.data())
results = [None] * 8


def one(k):
    ok, answers, q = ms.quick_session(mbox, passwd, ['DELE 1'])
    results[k] = (ok, q)


threads = [threading.Thread(target=one, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
done = sum(1 for ok, q in results if ok and ok.startswith(b'+OK') and
           q and q.startswith(b'+OK'))
refused = sum(1 for ok, q in results if ok and
              ok.startswith(b'-ERR [IN-USE]'))
tap.ok(done + refused == 8 and done >= 1,
       '8 sessions at once: each either deleted or got [IN-USE] '
       '(%d deleted, %d in use)' % (done, refused), results)
tap.ok(ms.read_file(mbox) == b''.join(many.msgs[done:]),
       '... the mailbox is exactly the messages not deleted, whole')

# A mailbox changed during the session, other than by new mail.
cases = []


def shrink():
    ms.write_file(mbox, box.data()[:-3000])


def replace():
    tmp = mbox + '.new'
    ms.write_file(tmp, box.data())
    os.rename(tmp, mbox)


def rubbish():
    ms.append_file(mbox, b'not a From_ line\njust bytes\n')


def rewritten():
    # a mail reader added a header to message 1: everything after shifts
    data = box.data()
    at = data.index(b'\n') + 1
    ms.write_file(mbox, data[:at] + b'Status: RO\n' + data[at:])


for name, change, dele in [('truncated', shrink, [3]),
                           ('replaced by rename', replace, [2]),
                           ('followed by bytes that are not a message',
                            rubbish, [4]),
                           ('rewritten, message 1 longer', rewritten, [3])]:
    ms.clean_mailbox(mbox, box.data())
    s = ms.session(mbox, passwd, log=log)
    s.login()
    for k in dele:
        s.cmd('DELE %d' % k)
    change()
    before = ms.read_file(mbox)
    q = s.cmd('QUIT')
    s.finish()
    tap.ok(q is not None and q.startswith(b'-ERR [SYS/TEMP]') and
           (b'changed' in q or b'replaced' in q) and
           ms.read_file(mbox) == before,
           'mailbox %s during the session: QUIT -ERR [SYS/TEMP] with a '
           'reason, file left as it was' % name, q)

# New mail is not a change: it is kept, whatever was deleted.
for dele in ([1], [4], [1, 2, 3, 4]):
    ms.clean_mailbox(mbox, box.data())
    new = ms.message(1, 4 * K, tag='new')
    s = ms.session(mbox, passwd, log=log)
    s.login()
    for k in dele:
        s.cmd('DELE %d' % k)
    ms.deliver(mbox, new)
    q = s.cmd('QUIT')
    s.finish()
    tap.ok(q is not None and q.startswith(b'+OK') and
           ms.read_file(mbox) == box.without(set(dele)) + new,
           'mail delivered during the session, DELE %s: +OK and the new '
           'mail kept' % dele, q)

shutil.rmtree(d, ignore_errors=True)
tap.done()
