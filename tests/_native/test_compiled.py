"""The building blocks for compiled loops: a memcpy, eight-byte words, C calls by address."""

from __future__ import annotations

import ctypes
import ctypes.util

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainguard._native.compiled import (
    c_call_p,
    c_call_p_reference,
    c_call_pp,
    c_call_pp_reference,
    c_call_ppn,
    c_call_ppn_reference,
    copy_bytes,
    copy_bytes_reference,
    load_u64,
    load_u64_reference,
    store_u32,
    store_u32_reference,
    store_u64,
    store_u64_reference,
    trailing_zeros,
    trailing_zeros_reference,
)


@numba.njit
def _copy(dst: np.ndarray, at: int, src: np.ndarray, frm: int, count: int) -> None:
    copy_bytes(dst, at, src, frm, count)


def test_copy_bytes_copies_exactly_the_range() -> None:
    dst = np.zeros(10, dtype=np.uint8)
    _copy(dst, 3, np.frombuffer(b"abcdef", dtype=np.uint8), 1, 4)
    assert dst.tobytes() == b"\0\0\0bcde\0\0\0"
    _copy(dst, 0, np.frombuffer(b"xyz", dtype=np.uint8), 0, 0)  # nothing to copy
    assert dst.tobytes() == b"\0\0\0bcde\0\0\0"


@numba.njit
def _calls(atoi: int, strcmp: int, strncmp: int, a: np.ndarray, b: np.ndarray) -> tuple:
    pa, pb = a.ctypes.data, b.ctypes.data
    return c_call_p(atoi, pa), c_call_pp(strcmp, pa, pb), c_call_ppn(strncmp, pa, pb, 2)


def test_c_functions_are_called_by_address() -> None:
    name = ctypes.util.find_library("c")
    if name is None:
        pytest.skip("no C library to call here")
    libc = ctypes.CDLL(name)
    addresses = [ctypes.cast(getattr(libc, f), ctypes.c_void_p).value for f in
                 ("atoi", "strcmp", "strncmp")]  # fmt: skip
    a = np.frombuffer(b"42x\0", dtype=np.uint8).copy()
    b = np.frombuffer(b"42y\0", dtype=np.uint8).copy()
    number, whole, first_two = _calls(*addresses, a, b)
    assert number == 42
    assert whole < 0  # "42x" sorts before "42y"
    assert first_two == 0
    atoi, strcmp, strncmp = addresses
    pa, pb = a.ctypes.data, b.ctypes.data
    assert (number, whole, first_two) == (
        c_call_p_reference(atoi, pa),
        c_call_pp_reference(strcmp, pa, pb),
        c_call_ppn_reference(strncmp, pa, pb, 2),
    )


@numba.njit
def _move_word(src: np.ndarray, frm: int, dst: np.ndarray, at: int) -> int:
    word = load_u64(src, frm)
    store_u64(dst, at, word)
    return word


def test_eight_bytes_load_and_store_little_endian_at_any_offset() -> None:
    src = np.arange(1, 21, dtype=np.uint8)
    for frm in range(0, 13):
        dst = np.zeros(24, dtype=np.uint8)
        word = _move_word(src, frm, dst, frm + 3)
        assert word == int.from_bytes(src[frm : frm + 8].tobytes(), "little")
        assert dst[frm + 3 : frm + 11].tobytes() == src[frm : frm + 8].tobytes()
        assert not dst[: frm + 3].any() and not dst[frm + 11 :].any()


# --- each intrinsic held to its plain reference -------------------------------------------


@numba.njit
def _stores(out: np.ndarray, at: int, word: np.uint64, value: np.uint32, tz_of: np.uint64) -> int:
    store_u64(out, at, word)
    store_u32(out, at + 8, value)
    return int(trailing_zeros(tz_of))


@given(st.binary(min_size=12, max_size=40), st.data())
def test_the_intrinsics_do_what_their_references_do(src: bytes, data: st.DataObject) -> None:
    buf = np.frombuffer(src, dtype=np.uint8).copy()
    at = data.draw(st.integers(0, len(src) - 12))
    count = data.draw(st.integers(0, len(src) - at))
    word = data.draw(st.integers(0, 2**64 - 1))
    value = data.draw(st.integers(0, 2**32 - 1))
    tz_of = data.draw(st.one_of(st.just(0), st.integers(0, 2**64 - 1)))

    compiled, reference = np.zeros(len(src), np.uint8), np.zeros(len(src), np.uint8)
    _copy(compiled, 0, buf, at, count)
    copy_bytes_reference(reference, 0, buf, at, count)
    assert compiled.tobytes() == reference.tobytes()

    assert _move_word(buf, at, np.zeros(len(src) + 8, np.uint8), 0) == load_u64_reference(buf, at)

    compiled, reference = buf.copy(), buf.copy()
    tz = _stores(compiled, at, np.uint64(word), np.uint32(value), np.uint64(tz_of))
    store_u64_reference(reference, at, word)
    store_u32_reference(reference, at + 8, value)
    assert compiled.tobytes() == reference.tobytes()
    assert tz == trailing_zeros_reference(tz_of)
