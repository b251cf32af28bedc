"""Building blocks for compiled (numba) loops that numba does not provide."""

from __future__ import annotations

from typing import Any

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def _copy_bytes(typingctx: Any, dst: Any, dst_at: Any, src: Any, src_at: Any, count: Any) -> Any:
    """``dst[dst_at:dst_at + count] = src[src_at:src_at + count]`` as one ``memcpy``.

    A byte loop costs about a nanosecond a byte and a slice assignment builds
    two array views; this is one call (LLVM's memcpy intrinsic), and unlike a
    ctypes call it leaves the calling function cacheable. No bounds checks:
    the caller sizes both arrays.
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


# Called from compiled code as copy_bytes(dst, dst_at, src, src_at, count).
copy_bytes: Any = _copy_bytes
