#!/usr/bin/env python3
"""Tables of medians from run.sh's raw TSV, ratios to the first server.

usage: summarize.py RAW.tsv SERVER [SERVER ...]

Each cell is the median over the runs of one case and server; "(2.5x)"
is that median divided by the first server's (pop3d when it ran).  A cell
marked "FAIL k/n" had k of its n runs fail verification or exit non-zero:
its number is still shown, but it does not measure a correct session.
"""

import csv
import statistics
import sys


def load(path):
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows.append(r)
    return rows


def number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def cell_values(rows, case, server, field):
    vals, bad, n = [], 0, 0
    for r in rows:
        if r["case"] != case or r["server"] != server:
            continue
        n += 1
        if r.get("rc") not in ("0", None) or number(r.get("errors")):
            bad += 1
        v = number(r.get(field))
        if v is not None:
            vals.append(v)
    return vals, bad, n


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "MB":
        v /= 1024
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def table(rows, cases, servers, field, title, unit, note=""):
    base = servers[0]
    out = ["## %s" % title, ""]
    if note:
        out += [note, ""]
    out.append("| case | " + " | ".join(servers) + " |")
    out.append("|---" * (len(servers) + 1) + "|")
    for case in cases:
        medians = {}
        cells = []
        for s in servers:
            vals, bad, n = cell_values(rows, case, s, field)
            medians[s] = statistics.median(vals) if vals else None
        for s in servers:
            vals, bad, n = cell_values(rows, case, s, field)
            m = medians[s]
            if n == 0:
                cells.append("")
                continue
            text = fmt(m, unit)
            b = medians[base]
            if s != base and m is not None and b:
                text += " (%.1fx)" % (m / b)
            if bad:
                text += " FAIL %d/%d" % (bad, n)
            cells.append(text)
        out.append("| %s | %s |" % (case, " | ".join(cells)))
    out.append("")
    return "\n".join(out)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rows = load(sys.argv[1])
    servers = sys.argv[2:]
    cases = []
    for r in rows:
        if r["server"] != "floor" and r["case"] not in cases:
            cases.append(r["case"])
    sizes = []
    for c in cases:
        if c.split("/")[0] not in sizes:
            sizes.append(c.split("/")[0])

    runs = {}
    for c in cases:
        runs[c] = max(cell_values(rows, c, s, "total_ms")[2] for s in servers)
    print("Medians of %s runs per cell; ratios are to %s (lower is "
          "better for every table but throughput)."
          % ("/".join(sorted({str(n) for n in runs.values()})), servers[0]))
    print("Case names: SIZE/WORKLOAD; +P pipelined, -inetd without "
          "TCP_NODELAY, -x50 fifty concurrent sessions on separate "
          "mailboxes.")
    print()
    print(table(rows, cases, servers, "total_ms",
                "Wall time, ms (client: connect to the answer to QUIT)",
                "ms"))
    print(table(rows, cases, servers, "cpu_ms",
                "Server CPU time, ms (user + system)", "ms",
                "Inetd-style servers: wait4() of the process the launcher "
                "started, its waited-for children included. Dovecot: all "
                "its processes (master, auth, login, pop3) over the run."))
    print(table(rows, cases, servers, "maxrss_kb",
                "Server peak RSS, MB", "MB",
                "The largest process serving the session (wait4 ru_maxrss; "
                "Dovecot: its pop3-login or pop3 process). -x50: the largest "
                "of the fifty."))

    lat = [c for c in cases if c.endswith("/stat")]
    print(table(rows, lat, servers, "greet_ms",
                "Connect to greeting, ms", "ms"))
    print(table(rows, lat, servers, "login_ms",
                "USER + PASS, ms", "ms"))
    upd = [c for c in cases if c.split("/")[1] in ("dele1", "dele")]
    print(table(rows, upd, servers, "quit_ms",
                "Update time, ms (QUIT sent to its answer)", "ms",
                "dele1: DELE 1 then QUIT; dele: every message deleted "
                "(RETR and DELE each). Pipelined runs are left out: their "
                "QUIT leaves with the other commands."))

    # Throughput of RETR against the physical floor.
    print("## Throughput, MB/s (octets delivered / wall time; cat: the "
          "mbox file's bytes / time)")
    print()
    print("| case | " + " | ".join(servers) + " | cat | cat \\| cat |")
    print("|---" * (len(servers) + 3) + "|")
    for c in cases:
        if "/retr" not in c or "-x" in c:
            continue
        cells = []
        for s in servers:
            tput = []
            for r in rows:
                if r["case"] == c and r["server"] == s:
                    o, t = number(r.get("octets")), number(r.get("total_ms"))
                    if o and t:
                        tput.append(o / 1048576 / (t / 1000))
            cells.append("%.0f" % statistics.median(tput) if tput else "")
        size = c.split("/")[0]
        for floor in ("cat", "cat|cat"):
            tput = []
            for r in rows:
                if r["case"] == "%s/%s" % (size, floor):
                    o, t = number(r.get("octets")), number(r.get("total_ms"))
                    if o and t:
                        tput.append(o / 1048576 / (t / 1000))
            cells.append("%.0f" % statistics.median(tput) if tput else "")
        print("| %s | %s |" % (c, " | ".join(cells)))
    print()
    print("Floors (median ms to read the mailbox file):")
    for size in sizes:
        parts = []
        for floor in ("cat", "cat|cat"):
            vals = [number(r["total_ms"]) for r in rows
                    if r["case"] == "%s/%s" % (size, floor)]
            if vals:
                parts.append("%s %.1f ms" % (floor, statistics.median(vals)))
        if parts:
            print("- %s: %s" % (size, ", ".join(parts)))


if __name__ == "__main__":
    main()
