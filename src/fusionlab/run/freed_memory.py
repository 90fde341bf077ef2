"""Memory a training step frees stays with the process for the next step (``performance.retain_freed_memory``).

glibc's ``malloc`` serves large blocks (from 128 kB, rising to 32 MB as such blocks are freed, and always
above 32 MB) with their own ``mmap`` and hands them back to the kernel when they are freed; it also returns
the free top of its heap. Each training step frees and allocates the same activation, gradient and
convolution-buffer sizes again, so every step the kernel maps and zeroes those pages anew, one page fault per
4 kB (``benchmarks/freed_memory.py`` counts them). Turning both off (``mallopt``: ``M_MMAP_MAX`` 0, so
every block comes from the heap; ``M_TRIM_THRESHOLD`` at its largest, so only a free top of over 2 GiB goes
back) lets the next step reuse the same pages. Nothing computed changes; the cost is that the process keeps
its peak resident memory until it ends. Only glibc has ``mallopt``: elsewhere (macOS, musl) nothing is
changed and the run's log says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_MAX = -4
LARGEST_TRIM_THRESHOLD = 2**31 - 1  # mallopt takes a C int


def retain_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse; True when it took both settings, False without glibc."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        log.info("performance.retain_freed_memory: the C library (%s) has no mallopt; its allocator is left "
                 "as it is", name)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    taken = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, LARGEST_TRIM_THRESHOLD) == 1
    if not taken:
        log.warning("performance.retain_freed_memory: the C library (%s) refused mallopt; freed memory goes back "
                    "to the kernel as before", name)
    return taken
