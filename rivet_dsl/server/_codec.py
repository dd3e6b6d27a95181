"""Wire encodings: JSON (with RivetKit's JSON-compat tagging) and CBOR.

RivetKit's JSON encoding tags values JSON cannot carry as two-element arrays:
``["$BigInt", "12"]``, ``["$Uint8Array", base64]``, ``["$ArrayBuffer", base64]``; an array that
happens to look like a tag is escaped with a second ``$`` (``["$$x", v]``). CBOR carries those
values natively; TypeScript's encoder writes ``undefined`` (``0xf7``), which we read as ``None``.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import cbor2
import msgspec

__all__ = [
    "CBOR_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "BigInt",
    "Encoding",
    "WireDecodeError",
    "content_type",
    "decode",
    "decode_cbor",
    "decode_json",
    "encode",
    "encode_cbor",
    "encode_json",
    "from_json_compat",
    "to_json_compat",
]

Encoding = Literal["json", "cbor"]
JSON_CONTENT_TYPE = "application/json"
CBOR_CONTENT_TYPE = "application/octet-stream"
_MAX_SAFE_INT = 2**53 - 1


class WireDecodeError(ValueError):
    """A body or frame that is not valid JSON/CBOR (or carries an unknown compat tag)."""


class BigInt(int):
    """An integer that RivetKit types as ``bigint`` (message ids): ``["$BigInt", "n"]`` in JSON,
    an 8-byte unsigned integer in CBOR, exactly as RivetKit writes them."""

    __slots__ = ()


#: The deepest nesting of arrays and objects a body or frame may have. Decoders accept about
#: 1,000 levels (Python's recursion limit) but everything that walks a value afterwards (the
#: compat tagging, the encoders of a reply or of the state) recurses too, with less stack left:
#: a deeper value would be accepted and then fail to go out again, or be stored in the state
#: and make every later read of it fail.
MAX_DEPTH = 128

_json_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder()
_json_encoder = msgspec.json.Encoder()


def from_json_compat(value: Any) -> Any:
    """Undo RivetKit's JSON-compat tagging."""
    if isinstance(value, list):
        if len(value) == 2 and isinstance(value[0], str) and value[0].startswith("$"):
            tag, inner = value
            if tag == "$BigInt":
                if not isinstance(inner, str):
                    raise WireDecodeError("$BigInt expects a decimal string")
                try:
                    return int(inner)
                except ValueError:
                    raise WireDecodeError(f"invalid $BigInt value {inner!r}") from None
            if tag in ("$Uint8Array", "$ArrayBuffer"):
                if not isinstance(inner, str):
                    raise WireDecodeError(f"{tag} expects a base64 string")
                try:
                    return base64.b64decode(inner, validate=True)
                except ValueError:
                    raise WireDecodeError(f"invalid base64 in {tag}") from None
            if tag == "$Undefined":
                return None
            if tag == "$Set":
                if not isinstance(inner, list):
                    raise WireDecodeError("$Set expects an array")
                return [from_json_compat(item) for item in inner]
            if tag.startswith("$$"):
                return [tag[1:], from_json_compat(inner)]
            raise WireDecodeError(f"unknown JSON-compat tag {tag!r}")
        return [from_json_compat(item) for item in value]
    if isinstance(value, dict):
        return {key: from_json_compat(item) for key, item in value.items()}
    return value


def to_json_compat(value: Any) -> Any:
    """Apply RivetKit's JSON-compat tagging (the inverse of :func:`from_json_compat`)."""
    if value is None or isinstance(value, str | bool | float):
        return value
    if isinstance(value, int):
        if isinstance(value, BigInt) or not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            return ["$BigInt", str(int(value))]
        return value
    if isinstance(value, list | tuple):
        if len(value) == 2 and isinstance(value[0], str) and value[0].startswith("$"):
            return ["$" + value[0], to_json_compat(value[1])]
        return [to_json_compat(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json_compat(item) for key, item in value.items()}
    if isinstance(value, bytes | bytearray | memoryview):
        return ["$Uint8Array", base64.b64encode(bytes(value)).decode("ascii")]
    return value


def _too_deep(value: Any, max_depth: int) -> bool:
    """Whether arrays and objects nest deeper than ``max_depth`` in ``value``."""
    level = [value]
    for _ in range(max_depth + 1):
        level = [
            item
            for container in level
            if isinstance(container, list | dict)
            for item in (container.values() if isinstance(container, dict) else container)
        ]
        if not level:
            return False
    return True


def decode_json(data: bytes, max_depth: int | None = MAX_DEPTH) -> Any:
    """Decode a JSON body or frame; ``max_depth=None`` (replies to a client) skips the
    nesting limit, which guards the server."""
    try:
        value = _json_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise WireDecodeError(f"invalid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise WireDecodeError("invalid JSON: strings must be valid UTF-8") from None
    except RecursionError:
        raise WireDecodeError("JSON nested too deeply") from None
    # Only a body with more brackets than the limit can be nested deeper (a cheap count first).
    if max_depth is not None and data.count(b"[") + data.count(b"{") > max_depth and _too_deep(value, max_depth):
        raise WireDecodeError(f"JSON nested deeper than {max_depth} levels")
    if b'"$' in data:
        value = from_json_compat(value)
    return value


def encode_json(value: Any) -> bytes:
    return _json_encoder.encode(to_json_compat(value))


def _strip_undefined(value: Any) -> Any:
    if value is cbor2.undefined:
        return None
    if isinstance(value, list):
        return [_strip_undefined(item) for item in value]
    if isinstance(value, dict):
        return {key: _strip_undefined(item) for key, item in value.items()}
    return value


def _check_cbor(value: Any, max_depth: int | None) -> None:
    """Reject CBOR values that have no wire meaning here: tags we do not know, simple values,
    non-string map keys, nesting deeper than ``max_depth``, and shared values.

    cbor2 resolves the value-sharing tags (28/29) itself into one Python object referenced
    many times: 40 levels of pairs of references fit in 270 bytes and expand to 2**40 items
    for anything that walks the value. So an array or map seen twice is refused, after
    visiting each one once."""
    seen: set[int] = set()
    level = [value]
    depth = 0
    while max_depth is None or depth <= max_depth:
        depth += 1
        below: list[Any] = []
        for container in level:
            if id(container) in seen:
                raise WireDecodeError("CBOR shared values (tags 28/29) are not supported")
            seen.add(id(container))
            items = container.values() if isinstance(container, dict) else container
            if isinstance(container, dict) and not all(isinstance(key, str | int) for key in container):
                raise WireDecodeError("CBOR map keys must be strings")
            for item in items:
                if isinstance(item, list | dict):
                    below.append(item)
                elif isinstance(item, cbor2.CBORTag | cbor2.CBORSimpleValue):
                    raise WireDecodeError("unsupported CBOR tag or simple value")
        if not below:
            return
        level = below
    raise WireDecodeError(f"CBOR nested deeper than {max_depth} levels")


def decode_cbor(data: bytes, max_depth: int | None = MAX_DEPTH) -> Any:
    """Decode a CBOR body or frame (``max_depth`` as in :func:`decode_json`)."""
    try:
        value = cbor2.loads(data)
    except Exception as exc:  # noqa: BLE001  (cbor2 raises several error types on garbage)
        raise WireDecodeError(f"invalid CBOR: {exc}") from None
    try:
        if isinstance(value, list | dict):
            _check_cbor(value, max_depth)
            if b"\xf7" in data:
                value = _strip_undefined(value)
            if b"$" in data:
                value = from_json_compat(value)
        elif value is cbor2.undefined:
            value = None
    except RecursionError:
        raise WireDecodeError("CBOR nested too deeply") from None
    return value


def _cbor_default(encoder: cbor2.CBOREncoder, value: Any) -> None:
    raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


def encode_cbor(value: Any) -> bytes:
    return encode(value, "cbor")


def _prepare_cbor(value: Any) -> Any:
    # BigInt ids go out as 8-byte unsigned integers, as RivetKit writes them; arrays that look
    # like JSON-compat tags are escaped, because RivetKit revives CBOR values the same way.
    if isinstance(value, BigInt):
        return _U64(int(value))
    if isinstance(value, dict):
        return {key: _prepare_cbor(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        if len(value) == 2 and isinstance(value[0], str) and value[0].startswith("$"):
            return ["$" + value[0], _prepare_cbor(value[1])]
        return [_prepare_cbor(item) for item in value]
    if isinstance(value, bytearray | memoryview):
        return bytes(value)  # a byte string (cbor2 writes a memoryview as an array of ints)
    return value


class _U64:
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


def _encode_u64(encoder: cbor2.CBOREncoder, value: _U64) -> None:
    if 0 <= value.value < 2**64:
        encoder.write(b"\x1b" + value.value.to_bytes(8, "big"))
    else:
        encoder.encode(value.value)


def _cbor_dumps_default(encoder: cbor2.CBOREncoder, value: Any) -> None:
    if isinstance(value, _U64):
        _encode_u64(encoder, value)
        return
    _cbor_default(encoder, value)


_cbor_dumps_plain = cbor2.dumps


def _dumps(value: Any) -> bytes:
    return _cbor_dumps_plain(value, default=_cbor_dumps_default)


def decode(data: bytes, encoding: Encoding, max_depth: int | None = MAX_DEPTH) -> Any:
    if encoding == "cbor":
        return decode_cbor(data, max_depth)
    return decode_json(data, max_depth)


def encode(value: Any, encoding: Encoding) -> bytes:
    if encoding == "cbor":
        return _dumps(_prepare_cbor(value))
    return encode_json(value)


def content_type(encoding: Encoding) -> str:
    return CBOR_CONTENT_TYPE if encoding == "cbor" else JSON_CONTENT_TYPE
