"""Typed configs: nested dataclasses are the single source of truth.

Layering (lowest to highest precedence), as in lingua/torchtitan:
    preset (a small function returning a dataclass)  <-  YAML file  <-  `key=value` overrides.

Every key is checked against the dataclass fields; an unknown key fails with a message that names
it, where it was found, and the closest valid keys. Values are coerced to the field's annotated
type (ints become floats where a float is declared; nothing else is guessed). After all layers are
applied, `validate()` is called on every nested config, children first: that is the one place
where derived values are computed and cross-field constraints are checked.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

import yaml

C = TypeVar("C")


class ConfigError(ValueError):
    """A user-facing configuration problem (unknown key, wrong type, invalid value)."""


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _suggest(key: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(choices), n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"{hint} Valid keys: {', '.join(sorted(choices))}."


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a YAML/override value to the annotated type `tp`, or raise ConfigError."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: {value!r} does not match {tp}: {'; '.join(errors)}")
    if origin is typing.Literal:
        if isinstance(value, bool) and not any(isinstance(a, bool) for a in args):
            # YAML 1.1 reads no/off/yes/on as booleans: `distributed.mixed_precision=no` means the string.
            spellings = ("no", "off", "false") if value is False else ("yes", "on", "true")
            value = next((a for a in args if isinstance(a, str) and a.lower() in spellings), value)
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return merge(tp(), value, where)
    if origin in (list, Sequence) or tp is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        return [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple or tp is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if args and len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args or [Any] * len(value))))
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML (YAML 1.1) reads `1e-4` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # e.g. a numeric-looking run name
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{where}: cannot interpret {value!r} as {tp}")


def merge(cfg: C, data: Mapping[str, Any], where: str = "") -> C:
    """Return a copy of dataclass `cfg` with the (nested) mapping `data` applied, strictly."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {data!r}")
    types_ = _field_types(type(cfg))
    names = [f.name for f in dataclasses.fields(cfg) if f.init]
    changes = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in names:
            raise ConfigError(f"unknown config key {path!r} in {type(cfg).__name__}.{_suggest(str(key), names)}")
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current) and isinstance(value, Mapping):
            changes[key] = merge(current, value, path)
        else:
            changes[key] = _coerce(value, types_[key], path)
    return dataclasses.replace(cfg, **changes)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: what the YAML parser objected to and where (1-based line and column)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"invalid YAML at {where}{problem}"


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """Turn ["a.b=3", "c=[1,2]"] into the nested mapping {"a": {"b": 3}, "c": [1, 2]}.

    Values are parsed as YAML scalars/flow collections, so `x=1e-4`, `x=true`, `x=null`,
    `x=[2,2,4]` behave as in a YAML file; quote to force a string (`name='001'`).
    """
    nested: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value (e.g. optim.lr=1e-4)")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r} has an empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: value is not valid YAML ({_yaml_problem(exc)}); "
                              "quote it to pass a string, e.g. name='a: b'") from exc
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with an earlier override of {part!r}")
        node[parts[-1]] = value
    return nested


def validate(cfg: Any) -> Any:
    """Call `validate()` on every nested dataclass, children first. Returns cfg."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            validate(value)
    hook = getattr(cfg, "validate", None)
    if callable(hook):
        hook()
    return cfg


def load_config(
    cls: type[C],
    path: str | Path | None = None,
    overrides: Sequence[str] = (),
    presets: Mapping[str, Callable[[], C]] | None = None,
    preset: str | None = None,
) -> C:
    """Build a config: preset (or the dataclass defaults) <- YAML file <- key=value overrides.

    A YAML file may name its base with a top-level `preset: NAME` key.
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise ConfigError(f"config file {str(path)!r} is a directory; pass a YAML file")
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {str(path)!r}: {_yaml_problem(exc)}; fix the YAML syntax") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {str(path)!r} must hold a mapping at top level")
        data = dict(loaded)
    preset = data.pop("preset", None) or preset
    if preset is not None:
        if not presets or preset not in presets:
            known = sorted(presets or {})
            raise ConfigError(f"unknown preset {preset!r} for {cls.__name__}; known presets: {known}")
        cfg = presets[preset]()
    else:
        cfg = cls()
    cfg = merge(cfg, data, "")
    cfg = merge(cfg, parse_overrides(overrides), "")
    return validate(cfg)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict (tuples become lists) suitable for YAML/JSON."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v) if f.init}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(cfg)


def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
    """Strictly rebuild a config saved with `to_dict` (used by checkpoint loading)."""
    return validate(merge(cls(), data, ""))


def save_yaml(cfg: Any, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
