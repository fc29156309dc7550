"""Read experiment settings stated in a question and validate them.

Values are read into canonical names first, because most question types are still planned
and have no schema yet:

    batch_size   int, or a list when several are given ("batch sizes 2, 4 and 8")
    lr           float, or a list
    optimizer    "sgd" | "adam"
    model        "mlp" | "cnn"
    dataset      "mnist1d" | "mnist" | "cifar10" | "cifar100" | "imagenet" | ...
    dropout      float in [0, 1)
    weight_decay float >= 0
    depth        int (number of layers), or a list

Which numbers count as settings: only a number attached to its setting ("batch size of 32",
"bs=2", "batches of 8", "8 images per GPU", "lr 1e-3", "Dropout(0.3)", "wd=5e-4", "50-layer").
A number offered as an illustration ("a small batch size (e.g. 32 samples)", "say 16") is an
example, not a setting: it becomes a note and never a parameter. Two different values for a
one-choice setting ("AdamW vs Adam", "an MLP and a CNN") are a comparison: noted, not chosen,
unless exactly one of them reads as the setting ("with Adam ..., or is that an SGD thing?").
"Unreadable" values ("bs=lots") and values out of range are reported in param_errors, never
guessed or clipped.

When the question type has a schema (experiments.params.Schema), each value is mapped to the
schema's parameter of that meaning (e.g. batch_size -> batch_sizes, an int_list) and run
through Param.validate; a ParamError becomes a param error, and a value the schema has no
parameter for is dropped with a note.
"""

from __future__ import annotations

import re
from typing import Any

NUM = r"(?:\d+(?:\.\d+)?(?:e-?\d+)?|\.\d+)"
_LIST = rf"{NUM}(?:\s*(?:,|and|or|vs\.?|to|/)\s*{NUM})*"
_HEDGE = re.compile(r"\b(?:e\.?g\.?|for example|for instance|say|such as|like|typically|usually|"
                    r"around|roughly|about|maybe|perhaps)\W*$")

# canonical name -> patterns whose group 1 is the value text
_NUMERIC: dict[str, list[str]] = {
    "batch_size": [
        rf"\b(?:mini ?)?batch[ -]?sizes?\s*(?:of|=|:|is|was|at|set to|around)?\s*({_LIST})",
        r"\bbs\s*[=:]?\s*(\d+)\b",
        r"\b(?:mini ?)?batch(?:es)? of (?:only |just )?(\d+)\b",
        r"\b(?:mini ?)?batch(?:es)? (?:is|are|was|were|of size) (?:only |just )?(\d+)\b",
        r"\b(\d+) (?:samples|images|examples|items|sequences|inputs)(?: each)? "
        r"(?:per|in each|in a) (?:mini ?)?(?:batch|gpu)\b",
        r"\bbatch(?:es)?\b[^?!\d\n]{0,25}?\((?:e\.g\.,?|say|like|about|around|only|just)?"
        r"\s*(\d+) (?:samples|images|examples)",
    ],
    "lr": [rf"\b(?:learning[ -]?rates?|lrs?|step[ -]?sizes?)\s*(?:of|=|:|is|was|at|to)?\s*"
           rf"({_LIST})(?![\dx])"],
    "dropout": [rf"\bdropout\s*(?:\(\s*(?:p\s*=\s*)?|of\s+|rate\s+(?:of\s+)?|p\s*=\s*|=\s*|"
                rf"with p\s*=?\s*)?({NUM}%?)"],
    "weight_decay": [rf"\b(?:weight[ -]?decay|wd|l2(?: penalty| regularization)?)\s*"
                     rf"(?:of|=|:|is|at)?\s*({_LIST})"],
    "depth": [r"\b(\d+)\s*(?:-|to)\s*(\d+)[ -]?layers?\b", r"\b(\d+)[ -]?layers?\b",
              r"\bdepths?\s*(?:of|=|:)?\s*(\d+)\b"],
}
_INT_NAMES = ("batch_size", "depth")

# "bs=lots": an explicit assignment whose value is not a number.
_ASSIGNED = re.compile(r"\b(batch[ -]?size|bs|lr|learning[ -]?rate|weight[ -]?decay|wd|dropout)"
                       r"\s*=\s*([^\s,;)]+)")
_ASSIGNED_NAME = {"batch size": "batch_size", "batch-size": "batch_size", "batchsize": "batch_size",
                  "bs": "batch_size", "lr": "lr", "learning rate": "lr", "learning-rate": "lr",
                  "learningrate": "lr", "weight decay": "weight_decay",
                  "weight-decay": "weight_decay", "weightdecay": "weight_decay",
                  "wd": "weight_decay", "dropout": "dropout"}

_OPTIMIZERS = [("adamw", r"\badamw\b"), ("adam", r"\badam\b(?!w)"),
               ("sgd", r"\bsgd\b|stochastic gradient descent"), ("rmsprop", r"\brmsprop\b"),
               ("adagrad", r"\badagrad\b"), ("lamb", r"\blamb optimi[sz]er"),
               ("lars", r"\blars\b")]
_MODELS = [("mlp", r"\bmlps?\b|multi ?layer perceptron|fully[ -]connected (?:net|network|model)|"
                   r"feed[ -]?forward (?:net|network|model)"),
           ("cnn", r"\bcnns?\b|\bconv(?:olution(?:al|s)?)?(?:\s?(?:[123]d|nets?|layers?|blocks?))?"
                   r"\b|\bresnets?\b|\bresnet\d+|\bvgg\w*|\binception\b")]
_DATASETS = [("mnist1d", r"\bmnist[ -]?1d\b"), ("fashion_mnist", r"fashion[ -]?mnist"),
             ("mnist", r"(?<!fashion )(?<![-\w])mnist\b(?![ -]?1d)"),
             ("cifar100", r"\bcifar[ -]?100\b"),
             ("cifar10", r"\bcifar[ -]?10\b(?!0)"), ("imagenet", r"\bimagenet\b"),
             ("svhn", r"\bsvhn\b")]

# What bnlab can run whatever the question type; anything else is reported, not guessed.
CHOICES = {"optimizer": ("sgd", "adam"), "model": ("mlp", "cnn")}

# canonical name -> schema parameter names that mean the same setting, in order of preference
ALIASES = {
    "batch_size": ("batch_size", "batch_sizes"),
    "lr": ("lr", "lrs", "learning_rate", "learning_rates"),
    "optimizer": ("optimizer", "optimizers"),
    "model": ("model", "models"),
    "dataset": ("dataset", "datasets"),
    "dropout": ("dropout", "dropouts", "dropout_p", "dropout_rates"),
    "weight_decay": ("weight_decay", "weight_decays", "wd"),
    "depth": ("depth", "depths"),
}


class Extracted:
    """Values read from one piece of text, with the problems and notes found on the way."""

    def __init__(self):
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.notes: list[str] = []
        # Values offered as an illustration ("say 32"): never a setting, but a type that asks
        # for the asker's own values (a parameter named asked_<name>s) runs them too.
        self.examples: dict[str, list[float]] = {}


# "batch size -16", "lr nan": a setting stated with a value no run can use. It is not guessed
# or clipped; the ask says so in a note and runs with the type's own values.
_UNUSABLE = re.compile(r"\b(batch[ -]?size|bs|lr|learning[ -]?rate|weight[ -]?decay|wd|dropout)"
                       r"\s*(?:of|=|:|is|was|at|to)?\s*(-\d+(?:\.\d+)?(?:e-?\d+)?|nan|"
                       r"[+-]?inf(?:inity)?)(?!\w)")


def extract(text: str) -> Extracted:
    low = text.lower().replace("\u2212", "-").replace("\u00d7", "x")
    out = Extracted()
    for match in _UNUSABLE.finditer(low):
        name = _ASSIGNED_NAME.get(re.sub(r"\s+", " ", match.group(1)), match.group(1))
        out.notes.append(f"{name}: {match.group(2)!r} is not usable; the type's own value ran")
    for name, rxs in _NUMERIC.items():
        _read_numbers(low, name, rxs, out)
    for match in re.finditer(_ASSIGNED, low):
        name = _ASSIGNED_NAME.get(match.group(1))
        unusable = re.fullmatch(r"(?:-\d.*|nan|[+-]?inf(?:inity)?)\.?", match.group(2))
        if name and name not in out.values and not re.fullmatch(NUM + "%?", match.group(2)) \
                and not unusable:  # those are _UNUSABLE's notes
            out.errors[name] = f"could not read {match.group(2)!r} as a number"
    _read_choice(low, "optimizer", _OPTIMIZERS, out)
    _read_choice(low, "model", _MODELS, out)
    _read_choice(low, "dataset", _DATASETS, out)
    _check_generic(out)
    return out


def _read_numbers(low: str, name: str, rxs: list[str], out: Extracted) -> None:
    found: list[float] = []
    for rx in rxs:
        for match in re.finditer(rx, low):
            groups = [g for g in match.groups() if g]
            numbers = [float(n.rstrip("%")) / (100 if n.endswith("%") else 1)
                       for g in groups for n in re.findall(NUM + "%?", g)]
            if _HEDGE.search(low[max(0, match.start() - 30):match.start(1)]):
                out.examples.setdefault(name, []).extend(
                    n for n in numbers if n not in out.examples.get(name, []))
                continue
            found.extend(n for n in numbers if n not in found)
        if found:
            break  # the first, most explicit pattern wins
    if not found:
        return
    if name in _INT_NAMES:
        if any(n != int(n) for n in found):
            out.errors[name] = f"expected whole numbers, got {', '.join(map(_fmt, found))}"
            return
        found = [int(n) for n in found]
    out.values[name] = found[0] if len(found) == 1 else found


# "with Adam", "using a CNN", "optimizer: sgd": the words that make a mention a setting.
_SETTING_CUE = (r"(?:with|using|use|via|on|train(?:ed|ing)? with|optimi[sz]er(?: is|:)?|"
                r"model(?: is|:)?)\s+(?:an? |the |plain |vanilla |my |a small |a simple )?")


def _read_choice(low: str, name: str, options: list[tuple[str, str]], out: Extracted) -> None:
    seen = [value for value, rx in options if re.search(rx, low)]
    if len(seen) > 1:
        # A comparison ("AdamW vs Adam") names several; one of them may still be the setting.
        cued = [value for value, rx in options
                if re.search(rf"{_SETTING_CUE}(?:{rx})", low)]
        if len(cued) != 1:
            out.notes.append(f"{name}: several mentioned ({', '.join(seen)}), none chosen")
            return
        seen = cued
    if seen:
        out.values[name] = seen[0]


def _check_generic(out: Extracted) -> None:
    """Limits that hold for every question type, schema or not."""
    checks = {
        "batch_size": (lambda v: v >= 1, "must be at least 1"),
        "depth": (lambda v: v >= 1, "must be at least 1"),
        "lr": (lambda v: v > 0, "must be above 0"),
        "weight_decay": (lambda v: v >= 0, "must not be negative"),
        "dropout": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
    }
    for name, (ok, why) in checks.items():
        if name in out.values:
            values = out.values[name] if isinstance(out.values[name], list) else [out.values[name]]
            if not all(ok(v) for v in values):
                out.errors[name] = f"{', '.join(map(_fmt, values))}: {why}"
                del out.values[name]
    for name, choices in CHOICES.items():
        if name in out.values and out.values[name] not in choices:
            out.errors[name] = (f"{out.values[name]!r} is not one bnlab can run "
                                f"(valid: {', '.join(choices)})")
            del out.values[name]


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def schema_for(type_id: str):
    """The type's parameter schema, or None while the type is planned."""
    from experiments import catalog

    return catalog.get(type_id).schema


def validate(type_id: str, found: Extracted) -> tuple[dict, dict, list[str]]:
    """(params, param_errors, notes) for one ask of `type_id`."""
    params = dict(found.values)
    errors = dict(found.errors)
    notes = list(found.notes)
    schema = schema_for(type_id)
    names = {p.name: p for p in schema.params} if schema is not None else {}
    for canonical, shown in found.examples.items():
        asked = names.get(f"asked_{canonical}s")
        if asked is not None and canonical not in params:
            params[canonical] = [int(v) if float(v).is_integer() else v for v in shown]
            notes.append(f"{canonical}: {', '.join(map(_fmt, shown))} is given as an example; "
                         f"run as the asker's own value")
        else:
            notes.append(f"{canonical}: {', '.join(map(_fmt, shown))} is given as an example, "
                         "not a setting; not used")
    if schema is None:
        return params, errors, notes
    from experiments.errors import ParamError

    validated: dict[str, Any] = {}
    for canonical, value in params.items():
        # A type that takes the asker's own values beside its sweep (asked_<name>s) gets them
        # there, so naming one value never replaces the comparison it is measured against.
        target = names.get(f"asked_{canonical}s") or next(
            (names[a] for a in ALIASES.get(canonical, (canonical,)) if a in names), None)
        if target is None:
            notes.append(f"{canonical}: {type_id} has no such parameter; ignored")
            continue
        if target.kind.endswith("_list"):
            value = value if isinstance(value, list) else [value]
        elif isinstance(value, list):
            if len(value) > 1:
                errors[target.name] = (f"several values given ({', '.join(map(_fmt, value))});"
                                       f" {type_id} takes one")
                continue
            value = value[0]
        try:
            validated[target.name] = target.validate(value)
        except ParamError as exc:
            errors[target.name] = str(exc).removeprefix(f"{exc.field}: ")
    return validated, errors, notes
