"""Parameter schemas for question types: typed, bounded, validated at the edge.

A value out of range is an error, never silently clipped (architecture.md, Presets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ParamError

KINDS = ("int", "float", "str", "bool", "int_list", "float_list", "str_list")
PRESETS = ("smoke", "quick", "full")


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # one of KINDS
    default: Any
    help: str
    min: float | None = None  # inclusive; for lists, applies to every element
    max: float | None = None
    choices: tuple | None = None  # for str / str_list
    max_len: int | None = None  # for lists

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"bad kind {self.kind!r} for {self.name}")

    def schema(self) -> dict:
        """JSON-schema-like description, used by `bnlab types --json`, the API and the router."""
        out: dict[str, Any] = {"name": self.name, "type": self.kind, "default": self.default,
                               "help": self.help}
        for key in ("min", "max", "choices", "max_len"):
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value) if key == "choices" else value
        return out

    def validate(self, value: Any) -> Any:
        """Return the value coerced to this kind, or raise ParamError naming what is valid.

        Strings are accepted for every kind so that CLI `--set k=v` and query strings work.
        """
        if self.kind.endswith("_list"):
            items = _split_list(value) if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not items:
                raise ParamError(self.name, f"expected a non-empty list of {self.kind[:-5]}")
            if self.max_len is not None and len(items) > self.max_len:
                raise ParamError(self.name, f"at most {self.max_len} values")
            scalar = Param(self.name, self.kind[:-5], None, "", self.min, self.max, self.choices)
            return [scalar.validate(v) for v in items]
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
                return value.lower() in ("true", "1", "yes")
            raise ParamError(self.name, f"expected true or false, got {value!r}")
        if self.kind == "str":
            if not isinstance(value, str):
                raise ParamError(self.name, f"expected a string, got {value!r}")
            if self.choices is not None and value not in self.choices:
                raise ParamError(self.name, f"{value!r} is not one of {', '.join(self.choices)}")
            return value
        number = _number(self.name, value, self.kind)
        if self.min is not None and number < self.min:
            raise ParamError(self.name, f"{number} is below the minimum {self.min}")
        if self.max is not None and number > self.max:
            raise ParamError(self.name, f"{number} is above the maximum {self.max}")
        return number


def _split_list(text: str) -> list[str]:
    """"4,32", "4, 32" or "[4, 32]" (as JSON would write it) -> ["4", "32"]; "" and "[]" -> []."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part.strip() for part in text.split(",")] if text.strip() else []


def _number(name: str, value: Any, kind: str) -> int | float:
    if isinstance(value, bool):
        raise ParamError(name, f"expected {kind}, got {value!r}")
    try:
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            number = int(value) if not isinstance(value, str) else int(value.strip())
        else:
            number = float(value)
    except (TypeError, ValueError):
        raise ParamError(name, f"expected {kind}, got {value!r}") from None
    if kind == "float" and number != number:  # NaN
        raise ParamError(name, "expected a finite number")
    return number


@dataclass(frozen=True)
class Schema:
    """The parameters of one question type and the values of its presets.

    `presets[name]` holds only the values that differ from the defaults; `full` values may
    exceed what a CPU would finish in minutes, but never the parameters' limits.
    """

    params: tuple[Param, ...]
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Constraints between parameters that per-value limits cannot express, checked when the
    # values are resolved, so a question that breaks one is refused before any job exists.
    # Called with the resolved values and the names the caller set; it may fill in a value
    # the caller did not set (to fit one they did) and raises ParamError for a conflict.
    check: Callable[[dict[str, Any], set[str]], None] | None = None

    def __post_init__(self):
        for name in PRESETS:
            for key, value in self.presets.get(name, {}).items():
                self.param(key).validate(value)  # a broken preset is a programming error

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        valid = ", ".join(p.name for p in self.params)
        raise ParamError(name, f"unknown parameter; valid: {valid}")

    def resolve(self, preset: str = "quick", overrides: dict[str, Any] | None = None) -> dict:
        """Defaults, then the preset's values, then validated overrides."""
        if preset not in PRESETS:
            raise ParamError("preset", f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
        values = {p.name: p.default for p in self.params}
        values.update(self.presets.get(preset, {}))
        for key, value in (overrides or {}).items():
            values[key] = self.param(key).validate(value)
        given = set(overrides or {})
        _fit_samples(values, given)
        if self.check is not None:
            self.check(values, given)
        return values

    def to_json(self) -> dict:
        return {"params": [p.schema() for p in self.params],
                "presets": {k: dict(self.presets.get(k, {})) for k in PRESETS}}


# Batch sizes of training and of evaluation. Each must fit in the test split too: training
# batches are also the groups of train-mode evaluation on the test set.
BATCH_PARAMS = ("batch_size", "batch_sizes", "asked_batch_sizes", "test_batch")


def _fit_samples(values: dict[str, Any], given: set[str]) -> None:
    """Every batch must fit in the dataset's test split. Where the asker set a batch size but
    not `num_samples`, the dataset grows to fit it; where they set both, a misfit is an error."""
    if "num_samples" not in values:
        return
    from .datasets import split_sizes

    sizes = [(name, int(b)) for name in BATCH_PARAMS if name in values
             for b in (values[name] if isinstance(values[name], list) else [values[name]])]
    if not sizes:
        return
    name, largest = max(sizes, key=lambda s: s[1])
    n_test = split_sizes(values["num_samples"])[1]
    if largest <= n_test:
        return
    needed = -(-largest * 5 // 10) * 10  # a test split of a fifth: 5 x the batch, whole tens
    while split_sizes(needed)[1] < largest:
        needed += 10
    if "num_samples" in given:
        raise ParamError(name, f"{largest} is larger than the {n_test} test samples that "
                         f"num_samples={values['num_samples']} leaves; use a batch of at most "
                         f"{n_test}, or num_samples of at least {needed}")
    values["num_samples"] = needed


def seeds_param(default: int = 5) -> Param:
    """Every ready question type has `seeds`, so `--seeds N` works the same everywhere."""
    return Param("seeds", "int", default, "number of random seeds (independent runs)", 1, 64)

