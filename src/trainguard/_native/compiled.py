"""Building blocks for compiled (numba) loops that numba does not provide.

Each is an LLVM intrinsic, which only compiled code can call. Beside each is its
plain-Python reference (``*_reference``): the tests hold the intrinsic to it, and
under ``NUMBA_DISABLE_JIT=1`` (the kernels then run as plain Python) the public
name is bound to the reference instead, so every kernel still runs.

numba's disk cache keys a compiled function on its own source file only: after
changing an intrinsic here, delete the ``__pycache__/*.nbi``/``*.nbc`` files of
the modules that use it, or they keep running the old machine code.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.cpython.unsafe.numbers import trailing_zeros as _trailing_zeros
from numba.extending import intrinsic


@intrinsic
def _copy_bytes(typingctx: Any, dst: Any, dst_at: Any, src: Any, src_at: Any, count: Any) -> Any:
    """``dst[dst_at:dst_at + count] = src[src_at:src_at + count]`` as one ``memcpy``.

    A byte loop costs about a nanosecond a byte and a slice assignment builds
    two array views; this is one call (LLVM's memcpy intrinsic), and unlike a
    ctypes call it leaves the calling function cacheable. No bounds checks and
    no overlap: the caller sizes both arrays and keeps them apart.
    """
    if not (isinstance(dst, types.Array) and isinstance(src, types.Array)):
        return None
    sig = types.void(dst, dst_at, src, src_at, count)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> None:
        dst_type, _, src_type, _, _ = signature.args
        dst_array = context.make_array(dst_type)(context, builder, args[0])
        src_array = context.make_array(src_type)(context, builder, args[2])
        item_pointer: Any = cgutils.get_item_pointer
        memcpy: Any = cgutils.raw_memcpy
        to = item_pointer(context, builder, dst_type, dst_array, [args[1]])
        frm = item_pointer(context, builder, src_type, src_array, [args[3]])
        memcpy(builder, to, frm, args[4], 1)

    return sig, codegen


def copy_bytes_reference(dst: Any, dst_at: int, src: Any, src_at: int, count: int) -> None:
    """What :func:`_copy_bytes` does, as a slice assignment."""
    dst[dst_at : dst_at + count] = src[src_at : src_at + count]


# False under NUMBA_DISABLE_JIT=1, where njit functions run as plain Python.
JIT = not getattr(numba.config, "DISABLE_JIT", False)

# Called from compiled code as copy_bytes(dst, dst_at, src, src_at, count).
copy_bytes: Any = _copy_bytes if JIT else copy_bytes_reference


# --- calling C functions by address --------------------------------------------------
#
# numba can call a ctypes function, but bakes its address into the machine code,
# so the caller cannot be cached to disk and is compiled again in every process
# (a fifth of a second for the hashing loop). These take the address as an argument.

_VOID_P = ir.IntType(8).as_pointer()


def _c_call(arg_types: list[Any]) -> Any:
    """An intrinsic calling ``int f(arg...)`` at address ``fn``: ``p`` arguments are
    pointers given as integers, ``n`` ones are size_t."""

    def typer(typingctx: Any, fn: Any, *args: Any) -> Any:
        if len(args) != len(arg_types) or not all(
            isinstance(t, types.Integer) for t in (fn, *args)
        ):
            return None
        sig = types.int32(fn, *args)

        def codegen(context: Any, builder: Any, signature: Any, values: Any) -> Any:
            params = [_VOID_P if kind == "p" else ir.IntType(64) for kind in arg_types]
            fnty = ir.FunctionType(ir.IntType(32), params)
            target = builder.inttoptr(values[0], fnty.as_pointer())
            call_args = []
            for value, kind in zip(values[1:], arg_types, strict=True):
                if kind == "p":
                    call_args.append(builder.inttoptr(value, _VOID_P))
                elif value.type.width < 64:
                    call_args.append(builder.zext(value, ir.IntType(64)))
                else:
                    call_args.append(value)
            return builder.call(target, call_args)

        return sig, codegen

    return typer


@intrinsic
def _c_call_p(typingctx: Any, fn: Any, a: Any) -> Any:
    return _c_call(["p"])(typingctx, fn, a)


@intrinsic
def _c_call_pp(typingctx: Any, fn: Any, a: Any, b: Any) -> Any:
    return _c_call(["p", "p"])(typingctx, fn, a, b)


@intrinsic
def _c_call_ppn(typingctx: Any, fn: Any, a: Any, b: Any, n: Any) -> Any:
    return _c_call(["p", "p", "n"])(typingctx, fn, a, b, n)


def _c_function(fn: int, *arg_types: Any) -> Any:
    return ctypes.CFUNCTYPE(ctypes.c_int, *arg_types)(fn)


def c_call_p_reference(fn: int, a: int) -> int:
    """What :func:`_c_call_p` does, through ctypes."""
    return int(_c_function(fn, ctypes.c_void_p)(int(a)))


def c_call_pp_reference(fn: int, a: int, b: int) -> int:
    """What :func:`_c_call_pp` does, through ctypes."""
    return int(_c_function(fn, ctypes.c_void_p, ctypes.c_void_p)(int(a), int(b)))


def c_call_ppn_reference(fn: int, a: int, b: int, n: int) -> int:
    """What :func:`_c_call_ppn` does, through ctypes."""
    call = _c_function(fn, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
    return int(call(int(a), int(b), int(n)))


# Called from compiled code: c_call_p(fn, ptr), c_call_pp(fn, ptr, ptr),
# c_call_ppn(fn, ptr, ptr, size); each returns the C function's int.
c_call_p: Any = _c_call_p if JIT else c_call_p_reference
c_call_pp: Any = _c_call_pp if JIT else c_call_pp_reference
c_call_ppn: Any = _c_call_ppn if JIT else c_call_ppn_reference


# --- eight bytes at a time ------------------------------------------------------------


def _word_pointer(
    context: Any, builder: Any, array_type: Any, array: Any, at: Any, bits: int = 64
) -> Any:
    """An i64 (or ``bits``-wide) pointer to byte ``at`` of the array (for unaligned
    access)."""
    value = context.make_array(array_type)(context, builder, array)
    item_pointer: Any = cgutils.get_item_pointer
    pointer = item_pointer(context, builder, array_type, value, [at])
    return builder.bitcast(pointer, ir.IntType(bits).as_pointer())


@intrinsic
def _load_u64(typingctx: Any, arr: Any, at: Any) -> Any:
    """``arr[at:at + 8]`` as one little-endian 64-bit word (any alignment; no bounds
    check: the caller keeps ``at + 8 <= len(arr)``)."""
    if not isinstance(arr, types.Array) or not isinstance(at, types.Integer):
        return None
    sig = types.uint64(arr, at)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        word = _word_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load(word, align=1)

    return sig, codegen


@intrinsic
def _store_u64(typingctx: Any, arr: Any, at: Any, value: Any) -> Any:
    """``arr[at:at + 8] = value`` as little-endian bytes (any alignment, no bounds check)."""
    if not isinstance(arr, types.Array) or not isinstance(value, types.Integer):
        return None
    sig = types.void(arr, at, value)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> None:
        word = _word_pointer(context, builder, signature.args[0], args[0], args[1])
        builder.store(args[2], word, align=1)

    return sig, codegen


@intrinsic
def _store_u32(typingctx: Any, arr: Any, at: Any, value: Any) -> Any:
    """``arr[at:at + 4] = value`` as little-endian bytes (any alignment, no bounds check)."""
    if not isinstance(arr, types.Array) or not isinstance(value, types.Integer):
        return None
    sig = types.void(arr, at, types.uint32)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> None:
        word = _word_pointer(context, builder, signature.args[0], args[0], args[1], bits=32)
        builder.store(args[2], word, align=1)

    return sig, codegen


def load_u64_reference(arr: Any, at: int) -> np.uint64:
    """What :func:`_load_u64` does: eight bytes read as a little-endian word."""
    return np.uint64(int.from_bytes(bytes(arr[at : at + 8]), "little"))


def store_u64_reference(arr: Any, at: int, value: Any) -> None:
    """What :func:`_store_u64` does: the word's low eight bytes, little-endian."""
    word = int(value) & 0xFFFF_FFFF_FFFF_FFFF
    arr[at : at + 8] = np.frombuffer(word.to_bytes(8, "little"), dtype=np.uint8)


def store_u32_reference(arr: Any, at: int, value: Any) -> None:
    """What :func:`_store_u32` does: the value cast to 32 bits, little-endian."""
    word = int(value) & 0xFFFF_FFFF
    arr[at : at + 4] = np.frombuffer(word.to_bytes(4, "little"), dtype=np.uint8)


def trailing_zeros_reference(x: Any) -> int:
    """What LLVM's cttz gives for a 64-bit word: its trailing zero bits, 64 for 0."""
    word = int(x) & 0xFFFF_FFFF_FFFF_FFFF
    return 64 if word == 0 else (word & -word).bit_length() - 1


# Called from compiled code: the number of trailing zero bits of an integer (LLVM's
# cttz, numba's own intrinsic; typed Any so that callers type-check).
trailing_zeros: Any = _trailing_zeros if JIT else trailing_zeros_reference

# Called from compiled code: load_u64(arr, at) -> uint64; store_u64(arr, at, word);
# store_u32(arr, at, value) (numba casts the value to uint32 first).
load_u64: Any = _load_u64 if JIT else load_u64_reference
store_u64: Any = _store_u64 if JIT else store_u64_reference
store_u32: Any = _store_u32 if JIT else store_u32_reference
