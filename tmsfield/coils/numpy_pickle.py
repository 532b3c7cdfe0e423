"""Read a numpy array out of pickle bytes *without unpickling*.

SimNIBS stores the A-field grid of a ``.tcd`` type-3 element as base64 of a (zlib-compressed)
pickled numpy array. Unpickling runs arbitrary code, so tmsfield never calls :mod:`pickle`
to read it. Instead, :func:`array_from_numpy_pickle` walks the opcode stream with
:func:`pickletools.genops`, which only disassembles. A tiny stack machine then evaluates just
the literal opcodes (numbers, strings, bytes, tuples, the memo), treating GLOBAL/REDUCE/BUILD
as inert records. From those records it recognises exactly the layout numpy uses for an
ndarray (``_reconstruct`` + state ``(version, shape, dtype, is_fortran, raw_bytes)``, or
protocol 5's ``_frombuffer(buffer, dtype, shape, order)``, with
the dtype built from ``numpy.dtype(descr, ...)`` and its byte order in the dtype state).
Anything else is refused.
"""

import math
import pickletools

import numpy as np

__all__ = ["array_from_numpy_pickle"]

_RECONSTRUCT = {"numpy.core.multiarray _reconstruct", "numpy._core.multiarray _reconstruct"}
_FROMBUFFER = {"numpy.core.numeric _frombuffer", "numpy._core.numeric _frombuffer"}   # protocol 5
_NUMERIC_KINDS = "fiub"


class _Global:
    def __init__(self, name):
        self.name = name


class _Call:
    def __init__(self, func, args):
        self.func, self.args, self.state = func, args, None


_MARK = object()


def _pop_to_mark(stack):
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is _MARK:
            items = tuple(stack[i + 1:])
            del stack[i:]
            return items
    raise ValueError("pickle has TUPLE without MARK")


def _evaluate(raw):
    stack, memo = [], {}
    for op, arg, _pos in pickletools.genops(raw):
        name = op.name
        if name in ("PROTO", "FRAME"):
            continue
        if name in ("GLOBAL", "STACK_GLOBAL"):
            if name == "STACK_GLOBAL":
                attr, module = stack.pop(), stack.pop()
                arg = f"{module} {attr}"
            stack.append(_Global(arg))
        elif name in ("BININT", "BININT1", "BININT2", "INT", "LONG", "LONG1", "LONG4",
                      "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "UNICODE",
                      "SHORT_BINBYTES", "BINBYTES", "BINBYTES8", "BYTEARRAY8", "BINSTRING", "SHORT_BINSTRING"):
            stack.append(arg)
        elif name == "NONE":
            stack.append(None)
        elif name in ("NEWTRUE", "NEWFALSE"):
            stack.append(name == "NEWTRUE")
        elif name == "MARK":
            stack.append(_MARK)
        elif name == "EMPTY_TUPLE":
            stack.append(())
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            items = tuple(stack[-n:])
            del stack[-n:]
            stack.append(items)
        elif name == "TUPLE":
            stack.append(_pop_to_mark(stack))
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[arg] = stack[-1]
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            stack.append(memo[arg])
        elif name == "REDUCE":
            args = stack.pop()
            func = stack.pop()
            if not isinstance(func, _Global):
                raise ValueError("pickle calls something that is not a named global")
            stack.append(_Call(func.name, args))
        elif name == "BUILD":
            state = stack.pop()
            if not isinstance(stack[-1], _Call):
                raise ValueError("pickle BUILD on a non-object")
            stack[-1].state = state
        elif name == "STOP":
            break
        else:
            raise ValueError(f"pickle opcode {name} is not part of a plain numpy array")
    if len(stack) != 1:
        raise ValueError("pickle does not hold exactly one object")
    return stack[0]


def _as_bytes(obj):
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj)
    # protocol 2 stores the raw buffer as _codecs.encode(str, 'latin1')
    if isinstance(obj, _Call) and obj.func == "_codecs encode" and len(obj.args) == 2 \
            and isinstance(obj.args[0], str) and obj.args[1] == "latin1":
        return obj.args[0].encode("latin1")
    raise ValueError("the array's data buffer is not stored as bytes")


def array_from_numpy_pickle(raw):
    """Decode the numpy ndarray pickled in ``raw`` without executing the pickle.

    Parameters
    ----------
    raw : bytes
        Pickle bytes (protocols 2–5, in-band buffers) of one C- or Fortran-ordered numeric
        numpy array.

    Returns
    -------
    ndarray
        A new (writable) array with the pickled shape and dtype.

    Raises
    ------
    ValueError
        The bytes are not a pickle of a plain numeric numpy array (any other object, a
        callable other than numpy's array reconstruction, object dtypes, a size mismatch).

    Examples
    --------
    >>> import pickle
    >>> a = np.arange(6.0).reshape(2, 3)
    >>> array_from_numpy_pickle(pickle.dumps(a, protocol=4))   # written with pickle, read without it
    array([[0., 1., 2.],
           [3., 4., 5.]])
    """
    try:
        obj = _evaluate(raw)
    except Exception as exc:  # refused opcode, malformed stream, stack underflow, missing memo entry
        raise ValueError(f"not a plain pickled numpy array ({exc})") from None
    if isinstance(obj, _Call) and obj.func in _RECONSTRUCT and isinstance(obj.state, tuple) \
            and len(obj.state) == 5:
        _version, shape, dtype_obj, is_fortran, data = obj.state
    elif isinstance(obj, _Call) and obj.func in _FROMBUFFER and isinstance(obj.args, tuple) and len(obj.args) == 4:
        data, dtype_obj, shape, order_char = obj.args
        is_fortran = order_char == "F"
    else:
        raise ValueError("the pickle does not hold a numpy array")
    if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise ValueError("the pickled array has no valid shape")
    if not (isinstance(dtype_obj, _Call) and dtype_obj.func == "numpy dtype" and dtype_obj.args
            and isinstance(dtype_obj.args[0], str)):
        raise ValueError("the pickled array has no plain dtype")
    order = "|"
    if isinstance(dtype_obj.state, tuple) and len(dtype_obj.state) > 1 and dtype_obj.state[1] in "<>|=":
        order = dtype_obj.state[1]
    try:
        dtype = np.dtype(dtype_obj.args[0]).newbyteorder(order if order in "<>" else "=")
    except TypeError:
        raise ValueError(f"unsupported dtype {dtype_obj.args[0]!r}") from None
    if dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"the pickled array has a non-numeric dtype {dtype}")
    buf = _as_bytes(data)
    count = math.prod(shape)                  # exact (np.prod would wrap around for absurd shapes)
    if len(buf) != count * dtype.itemsize:
        raise ValueError(f"data size {len(buf)} bytes does not match shape {shape} of {dtype}")
    arr = np.frombuffer(buf, dtype=dtype, count=count).reshape(shape, order="F" if is_fortran else "C")
    return arr.astype(dtype.newbyteorder("="), copy=True)
