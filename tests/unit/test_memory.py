"""webapp/runtime/memory.py: the trim runs where glibc has it and never raises elsewhere."""

from __future__ import annotations

import ctypes.util
import os
import platform

import pytest

from webapp.runtime.memory import release_free_heap


def _rss_kb() -> int:
    with open(f"/proc/{os.getpid()}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_heap_goes_back_to_the_system() -> None:
    # Blocks from the C heap itself (64 KiB, below mmap's threshold), written so their pages are
    # resident, then freed all but the last: glibc keeps the freed pages under a live block.
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    size = 64 * 1024
    blocks = [libc.malloc(size) for _ in range(1500)]  # ~94 MiB
    for b in blocks:
        ctypes.memset(b, 1, size)
    for b in blocks[:-1]:
        libc.free(b)
    before = _rss_kb()
    assert release_free_heap() is True
    after = _rss_kb()
    libc.free(blocks[-1])
    assert after < before - 60 * 1024


def test_without_a_c_library_nothing_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert release_free_heap() is False
