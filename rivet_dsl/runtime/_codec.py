"""Encoders and decoders, created once and reused (msgspec's first performance rule)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec

from .._errors import InvalidArgumentsError

__all__ = ["BINARY_TYPES", "decode_builtins", "decoder_for", "encode", "to_builtins", "validate", "validate_encoded"]

_encoder = msgspec.msgpack.Encoder()
_builtins_decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder()

#: Encode any msgspec-supported value to the internal storage format (MessagePack).
encode = _encoder.encode
#: Decode stored bytes to plain Python data (dicts, lists, str, int, ...).
decode_builtins = _builtins_decoder.decode


@lru_cache(maxsize=None)
def decoder_for(tp: Any) -> msgspec.msgpack.Decoder[Any]:
    """A typed MessagePack decoder for ``tp``, cached per type."""
    return msgspec.msgpack.Decoder(tp)


#: Binary values stay binary in plain data: the wire codecs carry them natively (a CBOR byte
#: string, JSON's ``["$Uint8Array", base64]`` tag, as RivetKit does) and MessagePack stores them
#: as ``bin``. msgspec's default turns them into base64 text, which a client cannot tell from a
#: string. (``bytearray``/``memoryview`` are left as they are; the wire codecs send them as bytes.)
BINARY_TYPES = (bytes, bytearray, memoryview)


def to_builtins(value: Any) -> Any:
    """Plain data as it goes over the wire (Structs become dicts, enums values, ...; bytes stay
    bytes)."""
    return msgspec.to_builtins(value, builtin_types=BINARY_TYPES)


def validate(value: Any, tp: Any, what: str) -> Any:
    """Convert wire data to ``tp`` or raise ``invalid_arguments`` (nothing else happens)."""
    return validate_encoded(value, tp, what)[0]


def validate_encoded(value: Any, tp: Any, what: str) -> tuple[Any, bytes]:
    """:func:`validate`, also returning the converted value's stored encoding."""
    if tp is Any:
        converted = value
    else:
        try:
            converted = msgspec.convert(value, tp)
        except msgspec.ValidationError as exc:
            raise InvalidArgumentsError(f"Invalid {what}: {exc}") from None
    try:
        # What cannot be stored must not get in: an integer beyond 64 bits would pass the type
        # check and then fail the state commit, after the actor had already used it.
        blob = encode(converted)
    except (OverflowError, msgspec.EncodeError, TypeError) as exc:
        raise InvalidArgumentsError(f"Invalid {what}: {exc}") from None
    return converted, blob
