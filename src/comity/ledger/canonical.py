"""The byte encoding of ledger entries: RFC 8785 canonical JSON.

An entry is a JSON value made of objects (``dict`` with ``str`` keys), arrays (``list``),
strings, integers, ``true``, ``false`` and ``null``, written as RFC 8785 (JCS) prescribes:
no whitespace, object members sorted by the UTF-16 code units of their names, strings with
only ``"``, ``\\`` and the control characters escaped (the short forms ``\\b \\t \\n \\f
\\r``, otherwise ``\\u00xx`` in lower case), everything else as UTF-8.

Narrower than RFC 8785, on purpose:

- **No floating-point numbers.** Entries never need them, and refusing them removes the
  one hard part of JCS (ECMAScript number formatting) and every rounding question. Integers
  must lie within ±(2^53 - 1), the I-JSON range every JSON reader keeps exactly.
- **At most 65,535 bytes** (:data:`MAX_ENTRY_BYTES`), so that an entry fits the 16-bit
  length prefix of C2SP tlog-tiles entry bundles.
- **At most 32 levels of nesting**, so that a hostile value cannot exhaust the stack.

Strings must be valid Unicode (no lone surrogates), since UTF-8 cannot carry them.
"""

from __future__ import annotations

from comity.ledger.errors import EntryError

MAX_ENTRY_BYTES = 0xFFFF
MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 32

_ESCAPES = {code: f"\\u{code:04x}" for code in range(0x20)} | {
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    ord('"'): '\\"',
    ord("\\"): "\\\\",
}


def _utf16_order(item: tuple[object, object]) -> bytes:
    # Big-endian UTF-16 bytes compare like the sequence of 16-bit code units.
    return str(item[0]).encode("utf-16-be", "surrogatepass")


def _too_long() -> EntryError:
    return EntryError(f"The entry is longer than {MAX_ENTRY_BYTES} bytes.")


class _Encoder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0

    def emit(self, text: str) -> None:
        # A character is at least one UTF-8 byte: stop early on oversized values, before
        # walking all of them; the exact byte count is checked once encoded.
        self.length += len(text)
        if self.length > MAX_ENTRY_BYTES:
            raise _too_long()
        self.parts.append(text)

    def encoded(self) -> bytes:
        try:
            data = "".join(self.parts).encode("utf-8")
        except UnicodeEncodeError:
            raise EntryError(
                "A string in the entry is not valid Unicode (it holds a lone surrogate)."
            ) from None
        if len(data) > MAX_ENTRY_BYTES:
            raise _too_long()
        return data

    def string(self, value: str) -> None:
        self.emit('"' + value.translate(_ESCAPES) + '"')

    def value(self, value: object, depth: int) -> None:
        if value is None:
            self.emit("null")
        elif value is True:
            self.emit("true")
        elif value is False:
            self.emit("false")
        elif isinstance(value, int):
            if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                raise EntryError(
                    f"The integer {value} is outside ±(2^53 - 1); write it as a string."
                )
            self.emit(str(int(value)))
        elif isinstance(value, float):
            raise EntryError(
                f"Ledger entries hold no floating-point numbers (found {value!r}); use an "
                "integer or a string."
            )
        elif isinstance(value, str):
            self.string(value)
        elif isinstance(value, list | dict):
            if depth >= MAX_DEPTH:
                raise EntryError(f"The entry nests deeper than {MAX_DEPTH} levels.")
            if isinstance(value, list):
                self.array(value, depth + 1)
            else:
                self.object(value, depth + 1)
        else:
            raise EntryError(f"A {type(value).__name__} cannot be part of a ledger entry.")

    def array(self, items: list[object], depth: int) -> None:
        self.emit("[")
        for position, item in enumerate(items):
            if position:
                self.emit(",")
            self.value(item, depth)
        self.emit("]")

    def object(self, members: dict[object, object], depth: int) -> None:
        for key in members:
            if not isinstance(key, str):
                raise EntryError(
                    f"Object member names must be strings, not {type(key).__name__} ({key!r})."
                )
        self.emit("{")
        for position, (key, item) in enumerate(sorted(members.items(), key=_utf16_order)):
            if position:
                self.emit(",")
            self.string(str(key))
            self.emit(":")
            self.value(item, depth)
        self.emit("}")


def canonical_json(value: object) -> bytes:
    """``value`` as RFC 8785 canonical JSON, within the limits in this module's docstring.

    Raises :class:`~comity.ledger.errors.EntryError` for anything an entry cannot hold.
    """
    encoder = _Encoder()
    encoder.value(value, 0)
    return encoder.encoded()
