#!/usr/bin/env python3
"""test/fuzz/checklog.py — what the SQL fuzzers fail on, read from the server log.

    python3 test/fuzz/checklog.py SERVER_LOG --src src --functions f1,f2,...

The log must be written with log_line_prefix '%m [%p] %e %a: ' and
log_error_verbosity = verbose (test/fuzz/pgserver.sh sets both), so that each
error carries its SQLSTATE and a LOCATION line naming the C source file.

A run fails on:
  - a backend crash: the postmaster's "server process (PID n) was terminated
    by signal ..." / "... exited with exit code ..." / "was terminated by
    exception", "all server processes terminated; reinitializing", a PANIC or
    an assertion TRAP.  (pg_postmaster_start_time() cannot show this: a
    crash-restart does not change it.)
  - an internal error (SQLSTATE XX000) raised from modelflags code: its
    LOCATION is a modelflags source file (src/*.c), or its BACKTRACE (logged
    for the functions in backtrace_functions) runs through modelflags.so, or,
    without a backtrace, its CONTEXT names modelflags or the statement that
    raised it calls a modelflags function.
  - a resource leak WARNING ("... reference leak", "resource was not closed")
    attributed to modelflags code the same way: a C bug that the next change
    may turn into a crash.
Every other error is what the fuzzers provoke on purpose.  XX000 errors that
cannot be attributed to modelflags (PostgreSQL's own planner bugs, which
sqlsmith is known to hit) are counted and shown, but do not fail the run.

Prints a FAIL: line with the log record for each distinct finding (crash
records with the query the backend was running), a PASS: line otherwise, and
a histogram of SQLSTATEs; exits 1 on any finding.
"""
import argparse
import collections
import os
import re
import sys

PREFIX = re.compile(
    r'^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+) \[(?P<pid>\d+)\] (?P<state>\S{5}) '
    r'(?P<app>.*?): ?(?P<kind>DEBUG\d?|INFO|NOTICE|WARNING|ERROR|LOG|FATAL|PANIC|DETAIL|HINT|'
    r'QUERY|CONTEXT|LOCATION|STATEMENT|BACKTRACE):  ?(?P<text>.*)$')
MAIN_KINDS = {'DEBUG', 'DEBUG1', 'DEBUG2', 'DEBUG3', 'DEBUG4', 'DEBUG5', 'INFO', 'NOTICE',
              'WARNING', 'ERROR', 'LOG', 'FATAL', 'PANIC'}
CRASH = re.compile(r'server process \(PID \d+\) (was terminated by (signal|exception)|exited with exit code)'
                   r'|terminated by signal|was terminated by exception'
                   r'|all server processes terminated; reinitializing')
LEAK = re.compile(r'leak|resource was not closed|still referenced')


class Record:
    """One log message with its DETAIL/CONTEXT/LOCATION/STATEMENT lines (at
    most MAX_LINES kept, each cut to MAX_CHARS: a fuzzer's statements can be
    megabytes)."""
    MAX_LINES = 80
    MAX_CHARS = 4000

    def __init__(self, m, line):
        self.pid = m.group('pid')
        self.state = m.group('state')
        self.kind = m.group('kind')
        self.text = m.group('text')[:self.MAX_CHARS]
        self.lines = [line[:self.MAX_CHARS]]
        self.parts = collections.defaultdict(str)

    def keep(self, line):
        if len(self.lines) < self.MAX_LINES:
            self.lines.append(line[:self.MAX_CHARS])

    def add(self, kind, text, line):
        self.keep(line)
        if len(self.parts[kind]) < self.MAX_CHARS:
            self.parts[kind] += text[:self.MAX_CHARS]

    def cont(self, line, last_kind):
        self.keep(line)
        if last_kind:
            if len(self.parts[last_kind]) < self.MAX_CHARS:
                self.parts[last_kind] += '\n' + line.lstrip('\t')[:self.MAX_CHARS]
        elif len(self.text) < self.MAX_CHARS:
            self.text += '\n' + line.lstrip('\t')[:self.MAX_CHARS]


def read_records(path):
    """Yields the log's records one by one, each once it is complete (the
    next record of its backend, or the end of the log), so that a log of
    gigabytes is read in bounded memory."""
    open_by_pid = collections.OrderedDict()
    current = None
    last_kind = None
    with open(path, encoding='utf-8', errors='replace') as f:
        for raw in f:
            line = raw.rstrip('\n')
            m = PREFIX.match(line)
            if m is None:
                if line.startswith('TRAP:'):
                    yield Record(PREFIX.match('1970-01-01 00:00:00 UTC [0] XX000 : PANIC:  ' + line[:2000]), line)
                elif current is not None:
                    current.cont(line, last_kind)
                continue
            kind = m.group('kind')
            if kind in MAIN_KINDS:
                prev = open_by_pid.pop(m.group('pid'), None)
                if prev is not None:
                    yield prev
                current = Record(m, line)
                open_by_pid[current.pid] = current
                last_kind = None
                # a record is complete at the latest when many others followed
                while len(open_by_pid) > 200:
                    yield open_by_pid.popitem(last=False)[1]
            else:
                r = open_by_pid.get(m.group('pid'))
                if r is None:
                    current, last_kind = None, None
                    continue
                r.add(kind, m.group('text'), line)
                current, last_kind = r, kind
    for r in open_by_pid.values():
        yield r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('log')
    ap.add_argument('--src', default='src', help='directory of the modelflags C sources')
    ap.add_argument('--functions', default='', help='comma-separated modelflags function names')
    ap.add_argument('--label', default='fuzz')
    ap.add_argument('--show', type=int, default=5, help='distinct findings shown in full')
    args = ap.parse_args()

    sources = {f for f in os.listdir(args.src) if f.endswith('.c')} if os.path.isdir(args.src) else set()
    funcs = [f for f in args.functions.split(',') if f]
    call = re.compile(r'\bmodelflags\s*\.\s*"?(' + '|'.join(map(re.escape, funcs)) + r')"?\s*\(', re.I) \
        if funcs else None

    def from_modelflags(r):
        loc = r.parts.get('LOCATION', '')
        m = re.search(r'([\w.-]+\.c):\d+', loc)
        if m and m.group(1) in sources:
            return 'location ' + m.group(1)
        # backtrace_functions (pgserver.sh) adds one to errors raised where
        # modelflags code is typically the caller (relation_open): exact.
        if r.parts.get('BACKTRACE'):
            return 'backtrace through modelflags.so' if 'modelflags.so' in r.parts['BACKTRACE'] else None
        if 'modelflags' in r.parts.get('CONTEXT', ''):
            return 'context'
        if call and (call.search(r.parts.get('STATEMENT', '')) or call.search(r.parts.get('QUERY', ''))):
            return 'statement calls ' + call.search(r.parts.get('STATEMENT', '') +
                                                     r.parts.get('QUERY', '')).group(0)
        return None

    nrecords = 0
    states = collections.Counter()
    findings = collections.OrderedDict()   # key -> (what, record, count)
    foreign_xx000 = collections.Counter()

    def note(key, what, r):
        if key in findings:
            findings[key][2] += 1
        else:
            findings[key] = [what, r, 1]

    for r in read_records(args.log):
        nrecords += 1
        if r.kind in ('ERROR', 'FATAL', 'PANIC'):
            states[r.state] += 1
        if r.kind == 'PANIC':
            note(('panic', r.text), 'PANIC', r)
        elif r.kind == 'LOG' and CRASH.search(r.text):
            if 'reinitializing' in r.text:
                note(('reinit',), 'crash-restart', r)
            else:
                msg = re.sub(r'PID \d+', 'PID n', r.text)
                note(('crash', msg, re.sub(r'\d+', 'n', r.parts.get('DETAIL', '')[:200])),
                     'backend crash', r)
        elif r.kind in ('ERROR', 'FATAL') and r.state == 'XX000':
            why = from_modelflags(r)
            # one finding per message shape: numbers and quoted names vary
            norm = re.sub(r'\d+', 'n', re.sub(r'"[^"]*"', '"…"', r.text))
            if why:
                note(('xx000', norm, r.parts.get('LOCATION', '')), 'internal error (XX000) from modelflags (%s)' % why, r)
            else:
                foreign_xx000[norm + ' @ ' + r.parts.get('LOCATION', '')] += 1
        elif r.kind == 'WARNING' and LEAK.search(r.text):
            why = from_modelflags(r)
            if why:
                note(('leak', re.sub(r'\d+', 'n', r.text)), 'resource leak from modelflags (%s)' % why, r)

    print('server log: %d records; errors by SQLSTATE: %s' % (
        nrecords, ', '.join('%s %d' % kv for kv in states.most_common(25)) or 'none'))
    for msg, n in foreign_xx000.most_common(10):
        print('  note: %d internal error(s) not from modelflags (PostgreSQL itself): %s' % (n, msg[:300]))
    # A crash-restart alone is a finding only when no crash record explains it.
    if any(k[0] == 'crash' for k in findings):
        findings.pop(('reinit',), None)
    if not findings:
        print('PASS: %s: no backend crash and no internal error from modelflags in the server log' % args.label)
        return 0
    shown = 0
    for (what, r, n) in findings.values():
        print('FAIL: %s: %s, %d time(s): %s' % (args.label, what, n, r.text.splitlines()[0][:300]))
        if shown < args.show:
            shown += 1
            print('  --- first occurrence in the server log:')
            for line in r.lines[:60]:
                print('  | ' + line[:2000])
    return 1


if __name__ == '__main__':
    sys.exit(main())
