#!/usr/bin/env python3
"""Writes the binary seeds of tests/fuzz/corpus/{proto,call,takeover}/ (the text
seeds of config/ and policy/ are committed as they are). Run from the
repository root after a change to the wire format:
    python3 tests/fuzz/make-seeds.py
"""
import os
import socket
import struct

MAGIC, VERSION = 0x54414753, 2  # include/sysgate/protocol.h
HELLO, SPEC, REFUSE, LISTENER, READY = 1, 2, 3, 4, 5


def msg(mtype, body):
    return struct.pack("<IHHII", MAGIC, VERSION, mtype, 16 + len(body), 0) + body


def hello(policy, labels=(), mode=0):
    body = struct.pack("<HHI", len(policy), len(labels), mode) + policy
    for kv in labels:
        body += struct.pack("<H", len(kv)) + kv
    return msg(HELLO, body)


def spec(default=0, derr=0, notify=(), deny=(), kill=(), allow=(), bpf=()):
    body = struct.pack("<8I", 0xC000003E, default, derr, len(notify), len(deny), len(kill),
                       len(allow), len(bpf))
    body += b"".join(struct.pack("<I", n) for n in notify)
    body += b"".join(struct.pack("<II", n, e) for n, e in deny)
    body += b"".join(struct.pack("<I", n) for n in kill)
    body += b"".join(struct.pack("<I", n) for n in allow)
    body += b"".join(struct.pack("<HBBI", *insn) for insn in bpf)
    return msg(SPEC, body)


# What filter.c compiles for spec-bpf's lists on x86_64 (libseccomp 2.5.4):
# the arch check, the x32 check, ptrace and bpf denied EPERM, getppid
# notified, the rest allowed.
BPF = [(0x20, 0, 0, 0x4), (0x15, 0, 10, 0xC000003E), (0x20, 0, 0, 0x0),
       (0x35, 0, 1, 0x40000000), (0x15, 0, 7, 0xFFFFFFFF), (0x20, 0, 0, 0x0),
       (0x15, 4, 0, 0x141), (0x15, 0, 1, 0x6E), (0x06, 0, 0, 0x7FC00000),
       (0x15, 1, 0, 0x65), (0x06, 0, 0, 0x7FFF0000), (0x06, 0, 0, 0x50001),
       (0x06, 0, 0, 0x80000000)]


def refuse(code, reason):
    return msg(REFUSE, struct.pack("<IHH", code, len(reason), 0) + reason)


PROTO = {
    "hello-demo": hello(b"demo"),
    "hello-labels-audit": hello(b"function-host", [b"app=web", b"tier=a=b c"], 2),
    "hello-learn": hello(b"audit", [], 3),
    "spec-demo": spec(0, 0, [257, 59, 83], [(101, 1), (321, 1)], [], []),
    "spec-default-deny": spec(1, 1, [42], [(165, 13)], [62], [0, 1, 60, 231]),
    "spec-kill": spec(2, 0, [], [], [101], [0]),
    "spec-bpf": spec(0, 0, [110], [(101, 1), (321, 1)], [], [], BPF),
    "refuse": refuse(2, b"unknown policy 'x'"),
    "listener": msg(LISTENER, struct.pack("<II", 0, 0)),
    "ready": msg(READY, struct.pack("<Q", 7)),
    "header-only": struct.pack("<IHHII", MAGIC, VERSION, HELLO, 16, 0),
}


def sockaddrs():
    un = struct.pack("<H", socket.AF_UNIX) + b"/run/sysgate/sysgate.sock\0"
    abstract = struct.pack("<H", socket.AF_UNIX) + b"\0abs\0name"
    inet = struct.pack("<H", socket.AF_INET) + struct.pack(">H", 443) + bytes([10, 0, 0, 1]) + bytes(8)
    inet6 = (struct.pack("<H", socket.AF_INET6) + struct.pack(">HI", 53, 0) +
             socket.inet_pton(socket.AF_INET6, "2001:db8::1") + struct.pack("<I", 0))
    netlink = struct.pack("<HHII", 16, 0, 4242, 1)
    packet = struct.pack("<H", 17) + bytes(18)
    return {"un": un, "un-abstract": abstract, "inet": inet, "inet6": inet6,
            "netlink": netlink, "packet": packet, "short": b"\x01"}


PTR = 1 << 63
NR = ["open", "openat", "openat2", "creat", "execve", "execveat", "connect", "bind",
      "sendto", "sendmsg", "clone", "clone3", "rename", "renameat2", "linkat", "symlinkat",
      "mount", "utimensat", "kill", "tgkill", "pidfd_send_signal", "unlinkat", "newfstatat",
      "getpid"]


def call(sel_cwd, nr, args, mem):
    """A call input: selector (odd), syscall index, six arguments, memory."""
    a = b"".join(struct.pack("<Q", x) for x in args)
    return bytes([(sel_cwd << 1) | 1, NR.index(nr)]) + a + mem


def p(off):
    return PTR | off


def calls():
    paths = b"/etc/shadow\0../x/./y\0"            # at 0 and 12
    argv = struct.pack("<QQQ", (1 << 32) + 0, (1 << 32) + 12, 0)  # MEM_BASE + offsets
    sa = sockaddrs()
    how = struct.pack("<QQQ", 0o102, 0o644, 0x08)   # O_RDWR|O_CREAT, 0644, RESOLVE_IN_ROOT
    msghdr = struct.pack("<QI4xQQQQi4x", (1 << 32) + 56, len(sa["inet"]), 0, 0, 0, 0, 0) + sa["inet"]
    return {
        "open": call(1, "open", [p(0), 0o1101, 0o777, 0, 0, 0], paths),
        "openat-rel": call(2, "openat", [0xffffff9c, p(12), 0, 0, 0, 0], paths),
        "openat2": call(1, "openat2", [3, p(0), p(32), 24, 0, 0], paths + bytes(11) + how),
        "creat": call(1, "creat", [p(0), 0o600, 0, 0, 0, 0], paths),
        "execve": call(1, "execve", [p(32), p(56), p(56), 0, 0, 0], paths + bytes(11) +
                       b"/bin/sh\0" + bytes(16) + argv),
        "connect-inet": call(1, "connect", [3, p(0), len(sa["inet"]), 0, 0, 0], sa["inet"]),
        "connect-un": call(1, "connect", [3, p(0), len(sa["un"]), 0, 0, 0], sa["un"]),
        "sendto-inet6": call(1, "sendto", [3, 0, 0, 0, p(0), len(sa["inet6"])], sa["inet6"]),
        "sendmsg": call(1, "sendmsg", [3, p(0), 0, 0, 0, 0], msghdr),
        "clone": call(1, "clone", [0x10000000 | 0x20000, 0, 0, 0, 0, 0], b""),
        "clone3": call(1, "clone3", [p(0), 64, 0, 0, 0, 0], struct.pack("<Q", 0x200000000) + bytes(56)),
        "renameat2": call(3, "renameat2", [5, p(0), 6, p(12), 0, 0], paths),
        "utimensat-null": call(1, "utimensat", [3, 0, 0, 0, 0, 0], b""),
        "tgkill": call(1, "tgkill", [100, 101, 9, 0, 0, 0], b""),
        "long-cwd": call(127, "openat", [0xffffff9c, p(12), 0, 0, 0, 0], paths),
    }


# The takeover's messages (supervisor/takeover_msg.h): fixed-size structs,
# host byte order (little-endian here), strings zero-padded in their field.
TK_MAGIC = 0x4B544753
TK_REQUEST, TK_BEGIN, TK_TARGET, TK_END, TK_ACCEPT, TK_REFUSE = range(1, 7)
PATH_MAX, MAX_NAME, MAX_LABELS, MAX_REASON = 4096, 64, 32, 512


def tk(mtype, body):
    return struct.pack("<IHHII", TK_MAGIC, 1, mtype, 16 + len(body), 0) + body


def tk_target(tid, pid, mode, pidfd, policy, labels=(), counters=(0,) * 10):
    body = struct.pack("<13Q", tid, 1000000 + tid, 1700000000 + tid, *counters)
    body += struct.pack("<6I", pid, 1000, mode, 1 if pidfd else 0, len(labels), 0)
    body += struct.pack("65s7x", policy)
    for k, v in labels:
        body += struct.pack("64s192s", k, v)
    body += bytes(256 * (MAX_LABELS - len(labels)))
    return tk(TK_TARGET, body)


TAKEOVER = {
    "request": tk(TK_REQUEST, struct.pack("<II", 4242, 0) +
                  struct.pack("%ds" % PATH_MAX, b"/etc/sysgate/sysgate.conf")),
    "begin": tk(TK_BEGIN, struct.pack("<IIQ", 4242, 2, 9)),
    "begin-empty": tk(TK_BEGIN, struct.pack("<IIQ", 4242, 0, 0)),
    "target-demo": tk_target(7, 4300, 1, True, b"demo", [(b"tenant", b"a b")]),
    "target-nopidfd": tk_target(8, 4301, 2, False, b"function-host",
                                [(b"app", b"web"), (b"tier", b"a=b c")], tuple(range(1, 11))),
    "target-full": tk_target(9, 4302, 3, True, b"p" * MAX_NAME,
                             [(b"k%d" % i, b"~" * 191) for i in range(MAX_LABELS)]),
    "end": tk(TK_END, struct.pack("<II", 2, 0)),
    "accept": tk(TK_ACCEPT, b""),
    "refuse": tk(TK_REFUSE, struct.pack("%ds7x" % (MAX_REASON + 1),
                                        b"config /x is not this supervisor's (/y)")),
}


def write(dirname, items):
    os.makedirs(dirname, exist_ok=True)
    for name, data in items.items():
        with open(os.path.join(dirname, name), "wb") as f:
            f.write(data)


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    write(os.path.join(root, "proto"), PROTO)
    write(os.path.join(root, "call"), {"addr-" + k: b"\0" + v for k, v in sockaddrs().items()})
    write(os.path.join(root, "call"), calls())
    write(os.path.join(root, "takeover"), TAKEOVER)


if __name__ == "__main__":
    main()
