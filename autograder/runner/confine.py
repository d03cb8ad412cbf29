"""A seccomp filter that each batch runner installs on itself before it runs any submission code:
no process of a submission may trace, read or write another process's memory, or take its file
descriptors (``ptrace``, ``process_vm_readv``/``writev``, ``pidfd_getfd``, ``process_madvise``);
touch a kernel keyring (``add_key``, ``request_key``, ``keyctl``); make namespaces of its own
(``unshare``, ``setns``); or reach kernel interfaces no honest notebook needs (``bpf``,
``perf_event_open``, ``userfaultfd``, ``io_uring_*``).

When the grader runs as root, the sandbox's uid is the host's uid 0 without capabilities: the
kernel's per-uid objects are then the host root's. A red-team notebook read and wrote the host
root's keyring that way, and left keys there for later submissions to read.

Inside the sandbox every process has the same uid, and bubblewrap's own init (pid 1) stays
traceable: a red-team notebook attached to it, made it run a program of its own that outlived the
submission, and planted a module in each later classmate's runner. The filter is inherited by
every process the runner starts and cannot be removed. x86-64 (its x32 system calls refused
outright) and aarch64; elsewhere it says so on the runner's output and the judge's checks that
the sandbox's own processes are unchanged still hold.
"""

import ctypes
import platform
import sys

_LD_ABS, _JEQ, _JGE, _RET = 0x20, 0x15, 0x35, 0x06
_ALLOW, _EPERM = 0x7FFF0000, 0x00050000 | 1
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2

#: machine -> (audit architecture, refused system calls, lowest x32 number or None); the calls, in
#: order: ptrace, process_vm_readv, process_vm_writev, pidfd_getfd, process_madvise, add_key,
#: request_key, keyctl, unshare, setns, bpf, perf_event_open, userfaultfd, io_uring_setup/enter/register
_TABLES = {
    "x86_64": (0xC000003E, (101, 310, 311, 438, 440, 248, 249, 250, 272, 308, 321, 298, 323, 425, 426, 427),
               0x40000000),
    "aarch64": (0xC00000B7, (117, 270, 271, 438, 440, 217, 218, 219, 97, 268, 280, 241, 282, 425, 426, 427), None),
}


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def program(machine: str) -> list:
    """The filter as (code, jt, jf, k) instructions, or [] for an unknown machine."""
    if machine not in _TABLES:
        return []
    arch, refused, x32 = _TABLES[machine]
    out = [(_LD_ABS, 0, 0, 4), (_JEQ, 1, 0, arch), (_RET, 0, 0, _EPERM), (_LD_ABS, 0, 0, 0)]
    if x32 is not None:
        out += [(_JGE, 0, 1, x32), (_RET, 0, 0, _EPERM)]
    for number in refused:
        out += [(_JEQ, 0, 1, number), (_RET, 0, 0, _EPERM)]
    return out + [(_RET, 0, 0, _ALLOW)]


def confine() -> bool:
    """Install the filter on this process; True once the kernel took it."""
    instructions = program(platform.machine())
    if not instructions:
        print(f"grader: no seccomp filter for {platform.machine()}", file=sys.stderr)
        return False
    filters = (_Filter * len(instructions))(*(_Filter(*i) for i in instructions))
    prog = _Program(len(instructions), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        print(f"grader: the seccomp filter was refused (errno {ctypes.get_errno()})", file=sys.stderr)
        return False
    return True
