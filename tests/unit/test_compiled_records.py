"""A JSON list of records read by compiled code into the model's matrix: the matrix orjson and
validation build, bit for bit, whenever it answers one; None for anything else."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

from modelport import compiled_records
from modelport.compiled_records import MAX_HARD, RecordsReader
from modelport.metadata import FeatureSpec, FeatureType, ModelMetadata
from modelport.validation import validate_records

RNG = np.random.default_rng(5)
NAMES = ["alpha", "b", "größe", "x1"]  # of different lengths, one not ASCII


def _metadata(names: list[str]) -> ModelMetadata:
    features = [FeatureSpec(name=name, type=FeatureType.NUMERIC) for name in names]
    return ModelMetadata(features=features, input_kind="numpy")


def _ordinary(body: bytes, names: list[str] = NAMES) -> np.ndarray:
    """What the ordinary way builds: orjson, then validation."""
    return np.asarray(validate_records(orjson.loads(body), _metadata(names), max_rows=10_000))


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def _values(n: int) -> np.ndarray:
    """Doubles of most magnitudes (subnormals apart), small integers, zeros of both signs."""
    exponents = RNG.integers(-300, 300, size=n)
    values = RNG.normal(size=n) * 10.0 ** exponents.astype(float)
    values[::7] = RNG.integers(-1000, 1000, size=len(values[::7]))
    values[::11] = -0.0
    return values


@pytest.mark.parametrize(
    "dumps",
    [
        lambda rows: json.dumps(rows, ensure_ascii=False).encode(),
        lambda rows: json.dumps(rows, ensure_ascii=False, indent=2).encode(),
        lambda rows: json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode(),
        lambda rows: orjson.dumps(rows),
        lambda rows: b" \r\n\t" + orjson.dumps(rows).replace(b",", b" ,\t") + b"\n ",
    ],
    ids=["json", "indented", "compact", "orjson", "odd-spaces"],
)
def test_records_read_as_orjson_and_validation_build_them(dumps):
    values = _values(400 * len(NAMES)).reshape(400, len(NAMES))
    rows = []
    for row in values:
        record = dict(zip(NAMES, row.tolist(), strict=True))
        keys = list(record)
        RNG.shuffle(keys)  # any order of keys, row by row
        rows.append({key: record[key] for key in keys})
    body = dumps(rows)
    read = RecordsReader(NAMES, 10_000).matrix(body)
    assert read is not None and _same_bits(read, _ordinary(body))


@pytest.mark.parametrize(
    "number",
    [
        "0", "-0", "-0.0", "0e5", "-0e5", "1E5", "1e-5", "0.1e+2", "12345", "-98765",
        "0.30000000000000004", "9007199254740993", "18446744073709551615",
        "123456789012345678901234567890", "1.00000000000000011102230246251565404236316680908203125",
        "5e-324", "2.4703282292062328e-324", "2.4703282292062327e-324", "4.9406564584124654e-324",
        "2.2250738585072011e-308", "2.2250738585072014e-308", "1.7976931348623157e308",
        "1e-400", "-1e-400", "0.000000000000000000000000000001234", "1e22", "1e23", "8.5e-7",
        "7.2057594037927933e16", "3.0517578125e-05", "1" * 19, "1" * 20, "0." + "9" * 30,
    ],
)  # fmt: skip
def test_each_number_is_the_double_a_json_parser_reads(number):
    body = f'[{{"a": {number}, "b": 1}}]'.encode()
    read = RecordsReader(["a", "b"], 10).matrix(body)
    assert read is not None and _same_bits(read, _ordinary(body, ["a", "b"]))


def test_random_decimal_numbers_are_the_doubles_a_json_parser_reads():
    """Decimal strings of up to 25 digits and exponents past both ends of the doubles."""
    reader, checked = RecordsReader(["a", "b"], 10), 0
    for _ in range(4000):
        digits = "".join(map(str, RNG.integers(0, 10, size=int(RNG.integers(1, 26)))))
        whole, fraction = digits[:1], digits[1:]
        number = whole + (f".{fraction}" if fraction else "") + f"e{int(RNG.integers(-345, 330))}"
        number = ("-" if RNG.random() < 0.5 else "") + number
        body = f'[{{"a": {number}, "b": {number}}}]'.encode()
        try:
            expected = _ordinary(body, ["a", "b"])
        except orjson.JSONDecodeError:  # infinite: refused by orjson, so by the reader's caller
            read = reader.matrix(body)
            assert read is None or not np.isfinite(read).all()
            continue
        read = reader.matrix(body)
        assert read is not None and _same_bits(read, expected), number
        checked += 1
    assert checked > 3000


@pytest.mark.parametrize(
    "body",
    [
        b"", b"   ", b"[]", b"{}", b'{"a": 1, "b": 2}', b'[{"a": 1}]', b'[{"a": 1, "b": 2, "c": 3}]',
        b'[{"a": 1, "b": 2, "a": 3}]', b'[{"a": null, "b": 2}]', b'[{"a": true, "b": 2}]',
        b'[{"a": "1", "b": 2}]', b'[{"a": [1], "b": 2}]', b'[{"a": {"c": 1}, "b": 2}]',
        b'[{"a": 1, "b": 2,}]', b'[{"a": 1, "b": 2},]', b'[{"a": 01, "b": 2}]',
        b'[{"a": 1., "b": 2}]', b'[{"a": .5, "b": 2}]', b'[{"a": +1, "b": 2}]',
        b'[{"a": NaN, "b": 2}]', b'[{"a": Infinity, "b": 2}]', b'[{"a": -, "b": 2}]',
        b'[{"a": 1e, "b": 2}]', b'[{"a": 1e+, "b": 2}]', b'[{"a": 1, "b": 2}] x',
        b'[{"a": 1, "b": 2}', b'[{"a": 1, "b": 2', b'[{"a": 1, "b": 2}]]', b'[[{"a": 1, "b": 2}]]',
        b'[{"\\u0061": 1, "b": 2}]', b'\xef\xbb\xbf[{"a": 1, "b": 2}]', b'[{"a\n": 1, "b": 2}]',
        b'[{"\xff": 1, "b": 2}]', b'[{"a" 1, "b": 2}]', b'[{"a": 1 "b": 2}]', b'[{a: 1, "b": 2}]',
        b'[{"a": 1, "b": 2} {"a": 1, "b": 2}]', b'[{"a": 1, "b": 2}, {"a": 1}]', b"[" + b"{" * 5000,
        b'[{"a": 1, "b": 2}, {"a": 3, "b": 4}, {"a": 5, "b": 6}]',  # more rows than allowed
    ],
)  # fmt: skip
def test_anything_but_a_list_of_whole_records_of_numbers_takes_the_ordinary_way(body):
    assert RecordsReader(["a", "b"], max_rows=2).matrix(body) is None


def test_a_number_parsed_by_python_is_read_up_to_a_limit_per_body():
    long = "0." + "1" * 25  # past 19 digits: converted by Python
    rows = ", ".join(f'{{"a": {long}, "b": 1}}' for _ in range(MAX_HARD))
    reader = RecordsReader(["a", "b"], 10_000)
    read = reader.matrix(f"[{rows}]".encode())
    assert read is not None and _same_bits(read, _ordinary(f"[{rows}]".encode(), ["a", "b"]))
    assert reader.matrix(f'[{rows}, {{"a": {long}, "b": 1}}]'.encode()) is None


def test_a_mangled_body_is_either_refused_or_read_exactly():
    """Bytes dropped, doubled or replaced anywhere: whatever the reader still reads is what
    orjson and validation build from the same bytes."""
    rows = [
        dict(zip(["a", "b"], pair, strict=True)) for pair in _values(40).reshape(20, 2).tolist()
    ]
    body = json.dumps(rows).encode()
    alphabet = b'{}[]":,.-+eE0123456789 \n\\ab'
    reader, read_some = RecordsReader(["a", "b"], 10_000), 0
    for _ in range(3000):
        mangled = bytearray(body)
        for _ in range(int(RNG.integers(1, 3))):
            at = int(RNG.integers(0, len(mangled)))
            change = RNG.integers(0, 3)
            if change == 0:
                del mangled[at]
            elif change == 1:
                mangled.insert(at, mangled[at])
            else:
                mangled[at] = alphabet[int(RNG.integers(0, len(alphabet)))]
        read = reader.matrix(bytes(mangled))
        if read is None or not np.isfinite(read).all():
            continue
        assert _same_bits(read, _ordinary(bytes(mangled), ["a", "b"])), bytes(mangled)
        read_some += 1
    assert read_some > 100  # a changed digit still reads


def test_the_reader_is_compiled_to_run_without_the_gil():
    assert compiled_records._read.targetoptions["nogil"] is True
