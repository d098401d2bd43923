"""A .npy whose header NumPy refuses (100 kB, past its max_header_size) is one line that
says so; NumPy's own three lines (which advise allow_pickle=True) never reach the user."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from aelab.data.arrays import read_npy, read_npz
from aelab.errors import DataError


def big_header_npy(size: int = 100_000) -> bytes:
    """A version 2.0 .npy of 2 images 6x6 whose header is padded to ``size`` bytes."""
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 6, 6), }"
    header = header.ljust(size - 12 - 1) + "\n"
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header.encode() + bytes(72)


def test_a_huge_npy_header_is_one_line(tmp_path: Path):
    path = tmp_path / "big.npy"
    path.write_bytes(big_header_npy())
    with pytest.raises(DataError, match=r"header is 99,988 bytes, more than NumPy reads") as info:
        read_npy(path)
    assert "\n" not in str(info.value) and "allow_pickle" not in str(info.value)


def test_a_huge_header_in_an_npz_member_is_one_line(tmp_path: Path):
    path = tmp_path / "big.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images.npy", big_header_npy())
    with pytest.raises(DataError, match=r"big.npz:images.npy: its .npy header is 99,988") as info:
        read_npz(path)
    assert "\n" not in str(info.value)


def test_a_broken_header_quotes_numpy_on_one_line(tmp_path: Path):
    path = tmp_path / "bad.npy"
    header = "{'descr': '|u1',\n 'shape': (2, 6, 6)}".ljust(117) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    with pytest.raises(DataError, match=r"not a readable \.npy array") as info:
        read_npy(path)
    assert "\n" not in str(info.value)
