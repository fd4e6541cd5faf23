#!/usr/bin/env python3
# A spool directory the session cannot write (Debian's /var/mail is
# root:mail 2775): no MBOX.lock and no MBOX.pop3d can be made.  The log
# must say what is done instead: the mailbox is locked with fcntl alone,
# a second session is not detected, and deletions that would move mail
# are refused (no journal, no crash safety) while deleting trailing
# messages (one truncate) still works.  As root the session runs as
# nobody, since root ignores directory permissions.
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mboxsafe as ms  # noqa: E402
from pop3lib import Tap, need, need_pop3d  # noqa: E402

tap = Tap()
need_pop3d(tap)
K = 1024

d, _, passwd, log = ms.workfiles('spool')
spool = os.path.join(d, 'spool')
os.mkdir(spool)
mbox = os.path.join(spool, 'jack')
box = ms.Mailbox([ms.message(i, n) for i, n in
                  enumerate([4 * K, 6 * K, 8 * K], 1)])

pre = []
if os.geteuid() == 0:
    need(tap, 'setpriv')
    import pwd
    nobody = pwd.getpwnam('nobody')
    pre = ['setpriv', '--reuid=%d' % nobody.pw_uid,
           '--regid=%d' % nobody.pw_gid, '--clear-groups', '--']
os.chmod(spool, 0o555)


def fresh():
    os.chmod(spool, 0o755)
    ms.write_file(mbox, box.data())
    if os.geteuid() == 0:
        os.chown(mbox, nobody.pw_uid, nobody.pw_gid)
    os.chmod(mbox, 0o600)
    os.chmod(spool, 0o555)
    if os.path.exists(log):
        os.unlink(log)


def logged():
    return ms.tail_of(log, 20000)


# The file system must refuse: a root without CAP_DAC_OVERRIDE dropped
# would make this test meaningless.
probe = subprocess.run(pre + ['sh', '-c', 'touch "$1/x" 2>/dev/null',
                              'sh', spool])
tap.ok(probe.returncode != 0, 'the session\'s user cannot create files in '
       'the spool directory')

fresh()
ok, answers, q = ms.quick_session(mbox, passwd, ['DELE 3'], log=log,
                                  pre=pre)
tap.ok(ok is not None and ok.startswith(b'+OK') and
       q is not None and q.startswith(b'+OK') and
       ms.read_file(mbox) == box.without({3}),
       'deleting the last message (one truncate) works', (ok, q))
text = logged()
tap.ok('jack.lock: cannot create the dotlock (Permission denied); '
       'locking the mailbox with fcntl only' in text,
       'the log says the dotlock could not be made and fcntl alone is used',
       text)
tap.ok('jack.pop3d: cannot create (Permission denied); a second session '
       'is not detected and deletions that move mail are refused' in text,
       'the log says no session lock / journal could be made, and what '
       'that means', text)

fresh()
ok, answers, q = ms.quick_session(mbox, passwd, ['DELE 1'], log=log,
                                  pre=pre)
tap.ok(q is not None and q.startswith(b'-ERR [SYS/TEMP]') and
       b'no journal' in q and ms.read_file(mbox) == box.data(),
       'deleting a message that other mail must move over: refused with '
       '-ERR [SYS/TEMP], mailbox unchanged', q)

fresh()
ok, answers, q = ms.quick_session(mbox, passwd, ['RETR 2', 'UIDL'], log=log,
                                  pre=pre)
tap.ok(ok is not None and ok.startswith(b'+OK') and
       q is not None and q.startswith(b'+OK') and
       ms.read_file(mbox) == box.data() and
       sorted(os.listdir(spool)) == ['jack'],
       'a read-only session works and leaves nothing behind', (ok, q))

os.chmod(spool, 0o755)
shutil.rmtree(d, ignore_errors=True)
tap.done()
