"""A JSON list of records read straight into the model's matrix by compiled code, without
the GIL (`modelport[fast]`).

A 1,000-row body of a 20-feature model is 20,000 numbers: parsed by orjson into 1,000
dicts, copied into a matrix and freed, it holds the GIL for several milliseconds on the
event loop's thread, while the model call it feeds waits. Here one compiled call reads the
body's bytes in a worker thread, GIL released: it checks the JSON grammar of a list of
flat records as it goes, finds each key among the features and converts each number into
the matrix, with no Python object made.

Only the common case is read: a list of records holding every feature once, each value a
JSON number, no escape in a key, no more than `max_rows` rows. Anything else (a missing or
unknown feature, null, true, a string, a nested value, bad JSON) answers None, and the body
takes the ordinary way, which gives the answer or the error. Where a matrix is answered, it
is the one orjson and validation build, bit for bit: numbers are converted by Clinger's
fast path, then the Eisel-Lemire algorithm (correctly rounded, as every exact parser), the
few neither decides (past 19 digits, subnormal, out of range) by Python's own float, and
the JSON integer `-0` is the integer 0.

The decimal-to-double conversion stays in this file, beside the reader: numba's cache of
`_read` is not made again when a function it calls changes in another file.
"""

from __future__ import annotations

import numba
import numpy as np

MIN_EXP10, MAX_EXP10 = -348, 347
"""The powers of ten the table holds; a number outside is converted by Python."""
MAX_HARD = 64
"""Numbers per body left to Python (past 19 digits, or out of range); past it, the ordinary way."""

U64 = np.uint64
_ZERO, _ONE = U64(0), U64(1)
_LOW32, _LOW9 = U64(0xFFFFFFFF), U64(0x1FF)
_FRACTION, _SIGN = U64(0x000FFFFFFFFFFFFF), U64(0x8000000000000000)
_SPACE, _TAB, _NEWLINE, _RETURN = 32, 9, 10, 13
_QUOTE, _COLON, _COMMA, _MINUS, _PLUS, _DOT, _ZERO_DIGIT = 34, 58, 44, 45, 43, 46, 48
_OPEN_LIST, _CLOSE_LIST, _OPEN_RECORD, _CLOSE_RECORD, _BACKSLASH = 91, 93, 123, 125, 92
_LOWER_E, _UPPER_E = 101, 69


def _powers_of_ten() -> np.ndarray:
    """`[power - MIN_EXP10] = (low, high)`: 10^power's 128 leading bits, rounded down."""
    table = np.empty((MAX_EXP10 - MIN_EXP10 + 1, 2), dtype=np.uint64)
    for power in range(MIN_EXP10, MAX_EXP10 + 1):
        if power >= 0:
            exact = 10**power
            bits = exact.bit_length()
            leading = exact >> (bits - 128) if bits >= 128 else exact << (128 - bits)
        else:
            divisor = 10**-power
            shift = 127 + divisor.bit_length()
            leading = (1 << shift) // divisor
            if leading.bit_length() > 128:
                leading = (1 << (shift - 1)) // divisor
        table[power - MIN_EXP10] = (leading & (2**64 - 1), leading >> 64)
    return table


POWERS = _powers_of_ten()
"""Read by the compiled code as a constant, frozen when it is compiled."""
EXACT_POWERS = np.array([10.0**power for power in range(23)])
"""The powers of ten a float64 holds exactly: a mantissa up to 2^53 times or over one of
them is one IEEE operation, so correctly rounded (Clinger's fast path)."""


class RecordsReader:
    """Reads JSON bodies for one model's features (`names`, in the model's order)."""

    def __init__(self, names: list[str], max_rows: int) -> None:
        encoded = [name.encode() for name in names]
        self.names = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        self.starts = np.cumsum([0, *map(len, encoded)]).astype(np.int64)
        self.max_rows = max_rows

    def matrix(self, body: bytes) -> np.ndarray | None:
        """`[rows, features]` float64, or None: not the common case (see the module)."""
        matrix: np.ndarray
        rows, matrix, hard = _read(
            np.frombuffer(body, dtype=np.uint8),
            self.names,
            self.starts,
            self.max_rows,
        )
        if rows < 0:
            return None
        for row, column, start, end in hard[: int(hard[0, 0]) + 1][1:]:
            matrix[row, column] = float(body[start:end])
        return matrix[:rows]


@numba.njit(inline="always")
def _mul(a, b):  # type: ignore[no-untyped-def]
    """The 128-bit product of two uint64: (high, low)."""
    a_low, a_high, b_low, b_high = a & _LOW32, a >> U64(32), b & _LOW32, b >> U64(32)
    p0, p1, p2, p3 = a_low * b_low, a_low * b_high, a_high * b_low, a_high * b_high
    middle = (p0 >> U64(32)) + (p1 & _LOW32) + (p2 & _LOW32)
    high = p3 + (p1 >> U64(32)) + (p2 >> U64(32)) + (middle >> U64(32))
    return high, (middle << U64(32)) | (p0 & _LOW32)


@numba.njit(inline="always")
def _leading_zeros(x):  # type: ignore[no-untyped-def]
    zeros = 0
    for shift in (32, 16, 8, 4, 2, 1):
        if x >> U64(64 - shift) == _ZERO:
            zeros += shift
            x <<= U64(shift)
    return zeros


@numba.njit
def _eisel_lemire(mantissa, exp10, negative):  # type: ignore[no-untyped-def]
    """The float64 bits nearest to mantissa * 10^exp10, and True; or False where the
    algorithm cannot decide (a halfway case it cannot see, a subnormal, an overflow)."""
    if mantissa == _ZERO:
        return (_SIGN if negative else _ZERO), True
    if exp10 < MIN_EXP10 or exp10 > MAX_EXP10:
        return _ZERO, False
    zeros = _leading_zeros(mantissa)
    mantissa <<= U64(zeros)
    exp2 = U64(((217706 * exp10) >> 16) + 64 + 1023 - zeros)
    row = exp10 - MIN_EXP10
    high, low = _mul(mantissa, POWERS[row, 1])
    if high & _LOW9 == _LOW9 and low + mantissa < mantissa:  # the product may be off by one
        next_high, next_low = _mul(mantissa, POWERS[row, 0])
        merged_high, merged_low = high, low + next_high
        if merged_low < low:
            merged_high += _ONE
        if merged_high & _LOW9 == _LOW9 and merged_low + _ONE == _ZERO:
            if next_low + mantissa < next_low:
                return _ZERO, False
        high, low = merged_high, merged_low
    top = high >> U64(63)
    bits = high >> (top + U64(9))
    exp2 -= _ONE ^ top
    if low == _ZERO and high & _LOW9 == _ZERO and bits & U64(3) == _ONE:
        return _ZERO, False  # exactly halfway: which way it rounds is not known here
    bits += bits & _ONE
    bits >>= _ONE
    if bits >> U64(53) > _ZERO:
        bits >>= _ONE
        exp2 += _ONE
    if exp2 - _ONE >= U64(0x7FF - 1):
        return _ZERO, False  # subnormal or infinite
    bits = (exp2 << U64(52)) | (bits & _FRACTION)
    return (bits | _SIGN if negative else bits), True


@numba.njit(inline="always")
def _digits(buf, i):  # type: ignore[no-untyped-def]
    while 48 <= buf[i] <= 57:  # the body ends with "]": no run of digits reads past it
        i += 1
    return i


@numba.njit(inline="always")
def _accumulate(buf, start, end, mantissa):  # type: ignore[no-untyped-def]
    for k in range(start, end):
        mantissa = mantissa * U64(10) + U64(buf[k] - 48)
    return mantissa


@numba.njit(inline="always")
def _space(byte):  # type: ignore[no-untyped-def]
    return byte == _SPACE or byte == _NEWLINE or byte == _RETURN or byte == _TAB


@numba.njit(inline="always")
def _skip(buf, i):  # type: ignore[no-untyped-def]
    while i < buf.shape[0] and _space(buf[i]):
        i += 1
    return i


@numba.njit(inline="always")
def _at(buf, i):  # type: ignore[no-untyped-def]
    return buf[i] if i < buf.shape[0] else 256


@numba.njit
def _whole(buf, i):  # type: ignore[no-untyped-def]
    """The end of a JSON number's whole part from `i`, or -1 (none, or a leading zero)."""
    if buf[i] == _ZERO_DIGIT:
        return -1 if 48 <= buf[i + 1] <= 57 else i + 1
    end = _digits(buf, i)
    return -1 if end == i else end


@numba.njit
def _exponent(buf, i):  # type: ignore[no-untyped-def]
    """(the index after an exponent at `i`, or -1; its value, capped past the table)."""
    negative = buf[i] == _MINUS
    if negative or buf[i] == _PLUS:
        i += 1
    end = _digits(buf, i)
    if end == i:
        return -1, 0
    if end - i > 6:
        return end, MAX_EXP10 + 1  # far out of range: Python converts it
    value = 0
    for k in range(i, end):
        value = value * 10 + (buf[k] - 48)
    return end, -value if negative else value


@numba.njit
def _number(buf, i, cell):  # type: ignore[no-untyped-def]
    """A JSON number from `i`, its float64 bits put in `cell`: the index after it; -1 when
    there is no JSON number there, and minus two minus that index when Python must convert it."""
    negative = buf[i] == _MINUS
    whole_start = i + negative
    whole_end = fraction_start = fraction_end = i = _whole(buf, whole_start)
    if i < 0:
        return -1
    if buf[i] == _DOT:
        fraction_start = i + 1
        i = fraction_end = _digits(buf, fraction_start)
        if fraction_end == fraction_start:
            return -1
    exp10, integer = fraction_start - fraction_end, fraction_start == fraction_end
    if buf[i] == _LOWER_E or buf[i] == _UPPER_E:
        i, explicit = _exponent(buf, i + 1)
        exp10, integer = exp10 + explicit, False
        if i < 0:
            return -1
    if (whole_end - whole_start) + (fraction_end - fraction_start) > 19:
        return -2 - i
    mantissa = _accumulate(buf, whole_start, whole_end, _ZERO)
    mantissa = _accumulate(buf, fraction_start, fraction_end, mantissa)
    return i if _convert(mantissa, exp10, negative, integer, cell) else -2 - i


@numba.njit(inline="always")
def _convert(mantissa, exp10, negative, integer, cell):  # type: ignore[no-untyped-def]
    """mantissa * 10^exp10 as float64 bits in `cell`, and True; False when undecided."""
    if integer and mantissa == _ZERO:
        cell[0] = _ZERO  # the integer -0 is 0, as JSON parsers read it
        return True
    if mantissa <= U64(2**53) and -22 <= exp10 <= 22:
        value = float(mantissa)
        value = value * EXACT_POWERS[exp10] if exp10 >= 0 else value / EXACT_POWERS[-exp10]
        cell.view(np.float64)[0] = -value if negative else value
        return True
    bits, decided = _eisel_lemire(mantissa, exp10, negative)
    cell[0] = bits
    return decided


@numba.njit
def _column(buf, start, end, names, starts, guess):  # type: ignore[no-untyped-def]
    """The feature named by `buf[start:end]`, looked for from `guess` on; -1 if none."""
    size, width = end - start, starts.shape[0] - 1
    for k in range(width):
        column = (guess + k) % width
        first = starts[column]
        if starts[column + 1] - first == size and _same(buf, start, names, first, size):
            return column
    return -1


@numba.njit(inline="always")
def _same(buf, start, names, first, size):  # type: ignore[no-untyped-def]
    for j in range(size):
        if buf[start + j] != names[first + j]:
            return False
    return True


@numba.njit
def _key(buf, i, names, starts, guess):  # type: ignore[no-untyped-def]
    """(the index after a key at `i` and its colon, the key's feature), or (-1, -1): no
    plain key (an escape, a control character), or not a feature's."""
    if _at(buf, i) != _QUOTE:
        return -1, -1
    start = i = i + 1
    while _at(buf, i) != _QUOTE:
        if i >= buf.shape[0] or buf[i] == _BACKSLASH or buf[i] < 32:
            return -1, -1
        i += 1
    column = _column(buf, start, i, names, starts, guess)
    i = _skip(buf, i + 1)
    if column < 0 or _at(buf, i) != _COLON:
        return -1, -1
    return _skip(buf, i + 1), column


@numba.njit
def _record(buf, i, row, names, starts, stamp, bits, hard, cell):  # type: ignore[no-untyped-def]
    """Read the record at `i` into `row`: the index after it, or -1 (not a whole record of
    numbers, or past the numbers Python may convert)."""
    width = starts.shape[0] - 1
    if _at(buf, i) != _OPEN_RECORD:
        return -1
    i = _skip(buf, i + 1)
    for found in range(width):
        start, column = _key(buf, i, names, starts, found)
        if column < 0 or stamp[column] == row + 1:
            return -1  # not a feature, or one given twice
        stamp[column] = row + 1
        i = _number(buf, start, cell)
        if i == -1:
            return -1
        if i < -1:
            i = -2 - i
            hard[0, 0] += 1
            if hard[0, 0] > MAX_HARD:
                return -1
            listed = hard[hard[0, 0]]
            listed[0], listed[1], listed[2], listed[3] = row, column, start, i
        else:
            bits[row * width + column] = cell[0]
        i = _skip(buf, i)
        if _at(buf, i) != (_COMMA if found < width - 1 else _CLOSE_RECORD):
            return -1  # a feature missing, or more keys than features
        i = _skip(buf, i + 1)
    return i


@numba.njit(nogil=True, cache=True)
def _read(buf, names, starts, max_rows):  # type: ignore[no-untyped-def]
    """(rows, matrix, hard): rows -1 when the body is not the common case. `hard[0, 0]` is
    how many numbers Python must convert, listed below it as (row, column, start, end)."""
    width, n = starts.shape[0] - 1, buf.shape[0]
    hard = np.zeros((MAX_HARD + 1, 4), dtype=np.int64)
    capacity = 0
    for byte in buf:
        capacity += byte == _OPEN_RECORD
    matrix = np.empty((min(capacity, max_rows), width), dtype=np.float64)
    last = n - 1
    while last >= 0 and _space(buf[last]):
        last -= 1
    i = _skip(buf, 0)
    if last < 0 or buf[last] != _CLOSE_LIST or _at(buf, i) != _OPEN_LIST:
        return -1, matrix, hard  # also: no run of digits can read past the end
    stamp = np.zeros(width, dtype=np.int64)  # the last row that gave each feature, plus one
    bits, cell = matrix.reshape(-1).view(np.uint64), np.empty(1, dtype=np.uint64)
    i, row = _skip(buf, i + 1), 0
    while row < matrix.shape[0]:
        i = _record(buf, i, row, names, starts, stamp, bits, hard, cell)
        if i < 0:
            return -1, matrix, hard
        row += 1
        if _at(buf, i) == _CLOSE_LIST:
            return (row if _skip(buf, i + 1) == n else -1), matrix, hard
        if _at(buf, i) != _COMMA:
            return -1, matrix, hard
        i = _skip(buf, i + 1)
    return -1, matrix, hard
