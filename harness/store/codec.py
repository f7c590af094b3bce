"""Frozen dataclasses to plain JSON data and back, driven by their type hints.

The kit's records cross process boundaries (xdist workers, fixture worker processes, cached
baselines and manifests, ``--checklist-json``). Each used to carry a hand-written
``to_dict``/``from_dict`` pair; this one codec replaces them, so a new field is serialised
the moment it is declared, and a field with a default may be missing from old JSON.

``to_data`` writes a dataclass as an object with its fields in declaration order, tuples and
lists as arrays, enums as their value, paths as strings and mapping keys as strings (what
``json.dumps`` does anyway). ``from_data`` reads it back by the class's type hints: nested
dataclasses, ``tuple[X, ...]`` and fixed tuples, lists, dicts and Mappings (keys converted
back, e.g. to ``int``), ``X | None`` and other unions, ``Path``, ``Enum``/``StrEnum``, and
the JSON scalars (an ``int`` is accepted where a ``float`` is declared and kept as it is, so
a load and a dump give back the same text). Unknown keys, missing required fields and
values of the wrong type raise :class:`CodecError` naming the path (``results[3].outcome``):
the data usually comes from a file, so the message must say where it is wrong.

A bottom room: it imports nothing else of the kit.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePath
from typing import Any, TypeVar

T = TypeVar("T")

# Field metadata: write the field even when ``omit_defaults`` would leave it out, e.g. a
# format's version, which a reader must always find.
ALWAYS: Mapping[str, bool] = types.MappingProxyType({"codec.always": True})

_Decoder = Callable[[Any], Any]


class CodecError(ValueError):
    """Data that does not fit the type it is read as; ``path`` says where (``a.b[2]``)."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path

    def inside(self, key: str | int) -> CodecError:
        """The same error seen from the container that holds the value at ``key``."""
        step = f"[{key}]" if isinstance(key, int) else key
        glue = "" if not self.path or self.path.startswith("[") else "."
        return CodecError(self.message, f"{step}{glue}{self.path}")


# ---------------------------------------------------------------------------------------------
# Writing.


def to_data(value: Any, *, omit_defaults: bool = False) -> Any:
    """``value`` as JSON-ready plain data; ``omit_defaults`` leaves out dataclass fields
    equal to their default (except fields marked :data:`ALWAYS`), at every depth."""
    if type(value) in _PLAIN:  # exact types: a StrEnum is a str too, but written by value
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in _fields(type(value)):
            item = getattr(value, f.name)
            if omit_defaults and _is_default(f, item):
                continue
            out[f.name] = to_data(item, omit_defaults=omit_defaults)
        return out
    if isinstance(value, enum.Enum):
        return to_data(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {_key(k): to_data(v, omit_defaults=omit_defaults) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_data(v, omit_defaults=omit_defaults) for v in value]
    return value


_PLAIN = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(cls)


def _is_default(f: dataclasses.Field[Any], value: Any) -> bool:
    if f.metadata.get("codec.always"):
        return False
    if f.default is not dataclasses.MISSING:
        return bool(value == f.default)
    if f.default_factory is not dataclasses.MISSING:
        return bool(value == f.default_factory())
    return False


def _key(key: Any) -> str:
    if isinstance(key, enum.Enum):
        key = key.value
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise TypeError(f"a mapping key must be a str, an int or an enum, not {key!r}")


def to_json(value: Any, *, omit_defaults: bool = False, **dumps: Any) -> str:
    """``json.dumps(to_data(value), **dumps)``."""
    return json.dumps(to_data(value, omit_defaults=omit_defaults), **dumps)


# ---------------------------------------------------------------------------------------------
# Reading.


def from_data(hint: type[T], data: Any) -> T:
    """Rebuild a ``hint`` (a dataclass, or any hint the module docstring lists) from data."""
    return typing.cast(T, _decoder(hint)(data))


def from_json(hint: type[T], text: str) -> T:
    """``from_data(hint, json.loads(text))``."""
    return from_data(hint, json.loads(text))


@functools.cache
def _decoder(hint: Any) -> _Decoder:
    """A function that reads data as ``hint`` (built once per hint: traces hold thousands)."""
    if hint is Any or hint is object:
        return _same
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return _union(args)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return functools.partial(_enum, hint)
    if isinstance(hint, type) and issubclass(hint, PurePath):
        return lambda data: hint(_scalar(str, data))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _sequence(_decoder(args[0]), tuple)
        return _fixed_tuple(tuple(_decoder(a) for a in args))
    if origin in (list, Sequence) or hint in (list, tuple):
        item = _decoder(args[0]) if args else _same
        return _sequence(item, list if origin is list or hint is list else tuple)
    if origin in (dict, Mapping) or hint is dict:
        key, value = (_key_decoder(args[0]), _decoder(args[1])) if args else (_same, _same)
        return functools.partial(_mapping, key, value)
    if hint in (str, int, float, bool):
        return functools.partial(_scalar, hint)
    if hint is type(None):
        return functools.partial(_scalar, type(None))
    raise TypeError(f"the codec cannot read {hint!r}")


def _same(data: Any) -> Any:
    return data


def _describe(data: Any) -> str:
    return {dict: "an object", list: "an array", type(None): "null"}.get(type(data), repr(data))


def _scalar(kind: type, data: Any) -> Any:
    ok = isinstance(data, kind) and not (kind is int and isinstance(data, bool))
    if kind is float:  # JSON writes 1.0 as 1.0, but hand-written files say 1
        ok = isinstance(data, int | float) and not isinstance(data, bool)
    if not ok:
        name = "null" if kind is type(None) else kind.__name__
        raise CodecError(f"expected {name}, got {_describe(data)}")
    return data


def _enum(kind: type[enum.Enum], data: Any) -> enum.Enum:
    try:
        return kind(data)
    except ValueError:
        known = ", ".join(str(m.value) for m in kind)
        raise CodecError(f"{data!r} is not one of {known}") from None


def _key_decoder(hint: Any) -> _Decoder:
    """JSON keys are strings: an ``int`` key is read back from its digits."""
    if hint is int:

        def key(data: Any) -> int:
            try:
                return int(data)
            except (TypeError, ValueError):
                raise CodecError(f"key {data!r} is not an integer") from None

        return key
    return _decoder(hint)


def _union(args: tuple[Any, ...]) -> _Decoder:
    options = [_decoder(a) for a in args if a is not type(None)]
    nullable = len(options) < len(args)

    def union(data: Any) -> Any:
        if data is None and nullable:
            return None
        errors = []
        for option in options:
            try:
                return option(data)
            except CodecError as exc:
                errors.append(exc)
        if len(errors) == 1 and not nullable:
            raise errors[0]
        names = " | ".join(getattr(a, "__name__", str(a)) for a in args)
        raise CodecError(f"{_describe(data)} is none of {names}")

    return union


def _sequence(item: _Decoder, kind: type) -> _Decoder:
    def sequence(data: Any) -> Any:
        if not isinstance(data, list | tuple):
            raise CodecError(f"expected an array, got {_describe(data)}")
        out = []
        for i, x in enumerate(data):
            try:
                out.append(item(x))
            except CodecError as exc:
                raise exc.inside(i) from None
        return kind(out)

    return sequence


def _fixed_tuple(items: tuple[_Decoder, ...]) -> _Decoder:
    def fixed(data: Any) -> tuple[Any, ...]:
        if not isinstance(data, list | tuple) or len(data) != len(items):
            raise CodecError(f"expected an array of {len(items)}, got {_describe(data)}")
        out = []
        for i, (item, x) in enumerate(zip(items, data, strict=True)):
            try:
                out.append(item(x))
            except CodecError as exc:
                raise exc.inside(i) from None
        return tuple(out)

    return fixed


def _mapping(key: _Decoder, value: _Decoder, data: Any) -> dict[Any, Any]:
    if not isinstance(data, Mapping):
        raise CodecError(f"expected an object, got {_describe(data)}")
    out = {}
    for k, v in data.items():
        try:
            out[key(k)] = value(v)
        except CodecError as exc:
            raise exc.inside(str(k)) from None
    return out


def _dataclass(cls: type) -> _Decoder:
    hints = typing.get_type_hints(cls)
    init = [f for f in dataclasses.fields(cls) if f.init]
    decoders = {f.name: _decoder(hints[f.name]) for f in init}
    required = {
        f.name
        for f in init
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }

    def read(data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise CodecError(f"expected an object for {cls.__name__}, got {_describe(data)}")
        unknown = [k for k in data if k not in decoders]
        if unknown:
            raise CodecError(
                f"unknown field(s) {', '.join(map(str, unknown))} of {cls.__name__} "
                f"(known: {', '.join(decoders)})"
            )
        missing = [name for name in decoders if name in required and name not in data]
        if missing:
            raise CodecError(f"{cls.__name__} needs {', '.join(missing)}")
        kwargs = {}
        for name, value in data.items():
            try:
                kwargs[name] = decoders[name](value)
            except CodecError as exc:
                raise exc.inside(name) from None
        return cls(**kwargs)

    return read
