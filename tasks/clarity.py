"""Reading Clarity values as the chain serialises them (the `hex` of a print event or a result).

The Stacks API and Chainhook both hand over a print event's value as its consensus
serialisation; its `repr` is meant for people. Decoded values are plain Python: int, bool,
str (ascii, utf8, principals), bytes (buffers), None (`none`), the inner value for `some`,
`Ok`/`Err` for responses, list, and dict for tuples.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

C32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class ClarityError(ValueError):
    """The bytes are not a serialised Clarity value."""


@dataclass(frozen=True)
class Ok:
    value: Any


@dataclass(frozen=True)
class Err:
    value: Any


def c32_address(version: int, hash160: bytes) -> str:
    """The c32check address (SP..., ST..., SM..., SN...) of a version byte and a hash160."""
    checksum = hashlib.sha256(hashlib.sha256(bytes([version]) + hash160).digest()).digest()[:4]
    data = hash160 + checksum
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, rest = divmod(number, 32)
        digits = C32[rest] + digits
    leading = len(data) - len(data.lstrip(b"\0"))
    return "S" + C32[version] + "0" * leading + digits


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise ClarityError("the value ends early")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def principal(self) -> str:
        version = self.take(1)[0]
        if version >= 32:
            raise ClarityError(f"address version {version} is out of range")
        return c32_address(version, self.take(20))

    def name(self) -> str:
        return self.take(self.take(1)[0]).decode("ascii")

    def value(self, depth: int = 0) -> Any:
        if depth > 32:
            raise ClarityError("the value nests too deep")
        kind = self.take(1)[0]
        if kind in (0x00, 0x01):
            return int.from_bytes(self.take(16), "big", signed=kind == 0x00)
        if kind == 0x02:
            return self.take(self.u32())
        if kind in (0x03, 0x04):
            return kind == 0x03
        if kind == 0x05:
            return self.principal()
        if kind == 0x06:
            return f"{self.principal()}.{self.name()}"
        if kind in (0x07, 0x08):
            inner = self.value(depth + 1)
            return Ok(inner) if kind == 0x07 else Err(inner)
        if kind == 0x09:
            return None
        if kind == 0x0A:
            return self.value(depth + 1)
        if kind == 0x0B:
            return [self.value(depth + 1) for _ in range(self.u32())]
        if kind == 0x0C:
            return {self.name(): self.value(depth + 1) for _ in range(self.u32())}
        if kind in (0x0D, 0x0E):
            raw = self.take(self.u32())
            try:
                return raw.decode("ascii" if kind == 0x0D else "utf-8")
            except UnicodeDecodeError:
                raise ClarityError("a string is not valid text") from None
        raise ClarityError(f"unknown Clarity type 0x{kind:02x}")


def decode(hex_value: str) -> Any:
    """Decode one serialised Clarity value from its hex (with or without `0x`)."""
    try:
        data = bytes.fromhex(hex_value.removeprefix("0x"))
    except ValueError:
        raise ClarityError("not hexadecimal") from None
    reader = _Reader(data)
    value = reader.value()
    if reader.at != len(data):
        raise ClarityError(f"{len(data) - reader.at} bytes after the value")
    return value


# --- the other direction: consensus serialisation of typed values ---
# Python values are ambiguous (an int is a uint or an int, a str one of three types), so what to
# serialise is said with these wrappers; bool, None (`none`), Ok/Err, list and dict (tuple) are
# taken as they are.


@dataclass(frozen=True)
class UInt:
    value: int


@dataclass(frozen=True)
class Int:
    value: int


@dataclass(frozen=True)
class Ascii:
    value: str


@dataclass(frozen=True)
class Utf8:
    value: str


@dataclass(frozen=True)
class Principal:
    """A standard (`SP...`) or contract (`SP....name`) principal."""

    value: str


@dataclass(frozen=True)
class Some:
    value: Any


def c32_decode(address: str) -> tuple[int, bytes]:
    """The version and hash160 of a c32check address; the checksum is verified."""
    if len(address) < 3 or address[0] != "S" or any(c not in C32 for c in address[1:]):
        raise ClarityError(f"{address!r} is not a c32check address")
    version = C32.index(address[1])
    number = 0
    for char in address[2:]:
        number = number * 32 + C32.index(char)
    data = number.to_bytes(24, "big") if number < 1 << 192 else b""
    if not data:
        raise ClarityError(f"{address!r} is too long for a c32check address")
    hash160 = data[:20]
    if c32_address(version, hash160) != address:
        raise ClarityError(f"{address!r} has a wrong checksum")
    return version, hash160


def _principal(address: str) -> bytes:
    version, hash160 = c32_decode(address)
    return bytes([version]) + hash160


def _sized(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def encode(value: Any) -> bytes:
    """The consensus serialisation of a value (`decode` reads it back)."""
    if isinstance(value, bool):
        return b"\x03" if value else b"\x04"
    if isinstance(value, UInt):
        return b"\x01" + value.value.to_bytes(16, "big")
    if isinstance(value, Int):
        return b"\x00" + value.value.to_bytes(16, "big", signed=True)
    if isinstance(value, bytes):
        return b"\x02" + _sized(value)
    if isinstance(value, Principal):
        address, dot, name = value.value.partition(".")
        if not dot:
            return b"\x05" + _principal(address)
        return b"\x06" + _principal(address) + bytes([len(name)]) + name.encode("ascii")
    if isinstance(value, (Ok, Err)):
        return (b"\x07" if isinstance(value, Ok) else b"\x08") + encode(value.value)
    if value is None:
        return b"\x09"
    if isinstance(value, Some):
        return b"\x0a" + encode(value.value)
    if isinstance(value, list):
        return b"\x0b" + len(value).to_bytes(4, "big") + b"".join(map(encode, value))
    if isinstance(value, dict):
        # Clarity serialises a tuple's fields sorted by name.
        fields = sorted(value.items())
        body = b"".join(bytes([len(k)]) + k.encode("ascii") + encode(v) for k, v in fields)
        return b"\x0c" + len(fields).to_bytes(4, "big") + body
    if isinstance(value, Ascii):
        return b"\x0d" + _sized(value.value.encode("ascii"))
    if isinstance(value, Utf8):
        return b"\x0e" + _sized(value.value.encode("utf-8"))
    raise ClarityError(f"say which Clarity type {value!r} is (UInt, Int, Ascii, Utf8, Principal, Some)")
