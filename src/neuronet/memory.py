"""How much memory this machine can give, so that an array too large for it is refused before it is made.

NumPy asked for 128 GiB raises MemoryError only after the system has tried
to find it (and a machine that overcommits may start swapping instead). A
layer therefore asks :func:`require` first, with the bytes its arrays need,
and a size typed one digit too long is an error that says so at once.
"""

from __future__ import annotations

import os

from . import checks

# below this, asking the system is not worth a read of /proc/meminfo: every machine that runs NumPy has it
SMALL = 64 * 2**20


def available() -> int | None:
    """Bytes of memory the machine can still give: Linux's MemAvailable, else the physical memory, else None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:,.1f} GiB"


def require(nbytes: int, what: str, fix: str) -> None:
    """Refuse, naming ``what`` needs ``nbytes`` and saying ``fix``, if the machine cannot give that much."""
    if nbytes <= SMALL:
        return
    have = available()
    if have is not None and nbytes > have:
        raise checks.ArgumentError(
            f"{what} would take {nbytes:,} bytes ({gib(nbytes)}), but this machine has {gib(have)} available: {fix}"
        )
