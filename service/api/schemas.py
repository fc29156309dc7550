"""Small schema objects that both validate JSON and describe it in the OpenAPI document.

A request body is checked by `Schema.validate`, and `/api/v1/openapi.json` is made from the
same objects by `Schema.to_openapi`, so the document cannot drift from what the API accepts.
Responses are described with the same objects (the tests validate real responses with them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from experiments.params import PRESETS

MAX_TEXT_CHARS = 20_000  # a question's text; longer is 413

_MISSING = object()
_JSON_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


class ValidationError(ValueError):
    """Field errors from validation; `status` is 422, or 413 when a size limit was exceeded."""

    def __init__(self, fields: dict[str, str], status: int = 422):
        self.fields, self.status = fields, status
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # a JSON type: string, integer, number, boolean, object, array
    description: str = ""
    required: bool = False
    nullable: bool = False
    default: Any = _MISSING
    enum: tuple | None = None
    min_length: int | None = None  # strings: after stripping white space
    max_length: int | None = None
    # 413 instead of 422 past max_length: the question text's size limit is a payload limit.
    too_long_status: int = 422
    minimum: float | None = None
    maximum: float | None = None
    format: str | None = None  # OpenAPI format: date-time, uri, ...
    schema: Schema | None = None  # an object's shape, or an array's items' shape
    items: str | None = None  # an array's item JSON type when its items are not objects

    def check(self, value: Any, path: str, errors: dict[str, str]) -> Any:
        if value is None:
            if not self.nullable:
                errors[path] = "must not be null"
            return value
        # bool is an int in Python; JSON keeps them apart.
        if not isinstance(value, _JSON_TYPES[self.type]) or (
                isinstance(value, bool) and self.type in ("integer", "number")):
            errors[path] = f"must be {_article(self.type)}"
            return value
        if self.enum is not None and value not in self.enum:
            errors[path] = f"must be one of {', '.join(map(str, self.enum))}"
        if self.type == "string":
            problem = _text_problem(value)
            if problem:
                errors[path] = problem
                return value
            if self.min_length is not None and len(value.strip()) < self.min_length:
                errors[path] = "must not be empty" if self.min_length == 1 else \
                    f"must be at least {self.min_length} characters"
            if self.max_length is not None and len(value) > self.max_length:
                errors[path] = (f"must be at most {self.max_length:,} characters, "
                                f"got {len(value):,}")
        if self.type in ("integer", "number"):
            if self.minimum is not None and value < self.minimum:
                errors[path] = f"must be at least {self.minimum}"
            if self.maximum is not None and value > self.maximum:
                errors[path] = f"must be at most {self.maximum}"
        if self.schema is not None and self.type == "object":
            return self.schema.check(value, path + ".", errors)
        if self.type == "array":
            if self.schema is not None:
                return [self.schema.check(v, f"{path}[{i}].", errors)
                        for i, v in enumerate(value)]
            if self.items is not None:
                item = Field("item", self.items)
                for i, v in enumerate(value):
                    item.check(v, f"{path}[{i}]", errors)
        return value

    def too_long(self, value: Any) -> bool:
        return (self.max_length is not None and isinstance(value, str)
                and len(value) > self.max_length)

    def to_openapi(self) -> dict:
        if self.type == "object" and self.schema is not None:
            out: dict[str, Any] = {"$ref": f"#/components/schemas/{self.schema.name}"}
            if self.nullable or self.description:
                out = {"allOf": [out]}
        else:
            out = {"type": self.type}
        if self.type == "array":
            if self.schema is not None:
                out["items"] = {"$ref": f"#/components/schemas/{self.schema.name}"}
            else:
                out["items"] = {"type": self.items} if self.items else {}
        if self.nullable:
            out["nullable"] = True
        for key, value in (("description", self.description), ("format", self.format),
                           ("minLength", self.min_length), ("maxLength", self.max_length),
                           ("minimum", self.minimum), ("maximum", self.maximum)):
            if value not in (None, ""):
                out[key] = value
        if self.enum is not None:
            out["enum"] = list(self.enum)
        if self.default is not _MISSING:
            out["default"] = self.default
        return out


@dataclass(frozen=True)
class Schema:
    name: str
    description: str
    fields: tuple[Field, ...]
    # Whether keys beyond `fields` are allowed (a result's free-form params, say). Request
    # bodies are closed, so a misspelt field is an error rather than silently ignored.
    open: bool = False
    examples: dict[str, Any] = field(default_factory=dict)

    def validate(self, data: Any) -> dict[str, Any]:
        """The data with defaults filled in, or ValidationError naming every bad field."""
        if not isinstance(data, dict):
            raise ValidationError({"body": "must be a JSON object"})
        errors: dict[str, str] = {}
        out = self.check(data, "", errors)
        if errors:
            too_long = any(f.too_long_status == 413 and f.too_long(data.get(f.name))
                           for f in self.fields)
            raise ValidationError(errors, 413 if too_long else 422)
        return out

    def check(self, data: dict, prefix: str, errors: dict[str, str]) -> dict:
        out = dict(data)
        names = {f.name for f in self.fields}
        if not self.open:
            for key in data:
                if key not in names:
                    errors[prefix + key] = "unknown field; valid: " + ", ".join(sorted(names))
        for f in self.fields:
            if f.name not in data:
                if f.required:
                    errors[prefix + f.name] = "is required"
                elif f.default is not _MISSING:
                    out[f.name] = f.default
                continue
            out[f.name] = f.check(data[f.name], prefix + f.name, errors)
        return out

    def to_openapi(self) -> dict:
        out: dict[str, Any] = {
            "type": "object",
            "description": self.description,
            "properties": {f.name: f.to_openapi() for f in self.fields},
            "additionalProperties": self.open,
        }
        required = [f.name for f in self.fields if f.required]
        if required:
            out["required"] = required
        if self.examples:
            out["example"] = self.examples
        return out

    def nested(self) -> list[Schema]:
        """This schema and every schema under it, each once."""
        seen: dict[str, Schema] = {self.name: self}
        for f in self.fields:
            if f.schema is not None:
                for s in f.schema.nested():
                    seen.setdefault(s.name, s)
        return list(seen.values())


def _text_problem(value: str) -> str | None:
    """Why a JSON string cannot be stored as text, or None. JSON can carry a lone UTF-16
    surrogate ("\\ud800") and NUL, which no UTF-8 text column (PostgreSQL's) can hold; other
    control characters (tab, newline, ...) are kept as they are."""
    if "\x00" in value:
        return "must not contain NUL (\\u0000) characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode: it holds a lone UTF-16 surrogate"
    return None


def _article(json_type: str) -> str:
    return ("an " if json_type[0] in "aeiou" else "a ") + json_type


# Requests

QUESTION_REQUEST = Schema("QuestionRequest", "A question in free text (Markdown or HTML).", (
    Field("text", "string", "The question; may hold several questions. Any Unicode text "
          "except NUL (\\u0000) and lone UTF-16 surrogates (422); other control characters "
          "are accepted and ignored by the router.", required=True,
          min_length=1, max_length=MAX_TEXT_CHARS, too_long_status=413),
    Field("preset", "string", "How big the experiments are: smoke (seconds), quick (about a "
          "minute on a CPU), full (GPU-sized).", enum=PRESETS, default="quick"),
    Field("fresh", "boolean", "Run again even when a finished result for the same question "
          "type, parameters and code version exists.", default=False),
), examples={"text": "With batches of 32, why not normalize with the running averages during "
                     "training?", "preset": "smoke"})

# Responses

ERROR_BODY = Schema("ErrorBody", "What went wrong.", (
    Field("code", "string", "Stable machine-readable code, e.g. validation_error.",
          required=True),
    Field("message", "string", "One line for people.", required=True),
    Field("fields", "object", "Field path -> what is wrong with it.", required=True),
))
ERROR = Schema("Error", "The one error shape of the API.", (
    Field("error", "object", required=True, schema=ERROR_BODY),
))

JOB_REF = Schema("JobRef", "A job in brief.", (
    Field("id", "integer", required=True),
    Field("status", "string", required=True,
          enum=("queued", "running", "succeeded", "failed", "cancelled")),
    Field("progress", "number", "0..1", required=True, minimum=0, maximum=1),
    Field("progress_eta_s", "number", "Seconds until a running job is expected to finish, "
          "extrapolated from its progress (a fraction of the planned training steps) and "
          "its running time; null when it is not running or too little is done to tell.",
          required=True, nullable=True, minimum=0),
    Field("url", "string", "The job's resource.", required=True, format="uri-reference"),
    Field("cached", "boolean", "In a new question's answer: true when an existing job "
          "(finished or under way) answers this ask."),
))
ASK = Schema("Ask", "One question the router found in the text.", (
    Field("type", "string", "Question type id (GET /api/v1/types).", required=True),
    Field("confidence", "number", required=True, minimum=0, maximum=1),
    Field("excerpt", "string", "The part of the text it came from.", required=True),
    Field("params", "object", "Parameters read from the text.", required=True),
    Field("job", "object", "Null while the type is planned.", required=True, nullable=True,
          schema=JOB_REF),
    Field("note", "string", nullable=True),
))
NOT_UNDERSTOOD = Schema("NotUnderstood", "Text the router could not place.", (
    Field("excerpt", "string", required=True),
    Field("suggestions", "array", "The closest question types.", items="string"),
), open=True)
QUESTION = Schema("Question", "A question with its asks and their jobs.", (
    Field("id", "integer", required=True),
    Field("url", "string", required=True, format="uri-reference"),
    Field("text", "string", required=True),
    Field("source", "string", required=True),
    Field("asker", "string", nullable=True, required=True),
    Field("preset", "string", required=True, enum=PRESETS),
    Field("created_at", "string", required=True, format="date-time"),
    Field("asks", "array", required=True, schema=ASK),
    Field("not_understood", "array", required=True, schema=NOT_UNDERSTOOD),
    Field("off_topic", "boolean", "True when the text is about something other than BN "
          "behaviour, so nothing runs.", required=True),
    Field("off_topic_reason", "string", "Why it was judged off topic.", required=True,
          nullable=True),
))
FIGURE = Schema("Figure", "A figure of a result, served as image/png.", (
    Field("name", "string", required=True),
    Field("caption", "string", required=True),
    Field("url", "string", required=True, format="uri-reference"),
))
FINDING = Schema("Finding", "One measured claim: a sentence and the comparison behind it.", (
    Field("key", "string", required=True),
    Field("text", "string", "One plain sentence.", required=True),
    Field("metric", "string", nullable=True),
    Field("a", "string", nullable=True),
    Field("b", "string", nullable=True),
    Field("mean_a", "number", nullable=True),
    Field("mean_b", "number", nullable=True),
    Field("diff", "number", "a - b, or a / b when scale is ratio.", nullable=True),
    Field("diff_ci95", "array", nullable=True, items="number"),
    Field("n", "integer", "Seeds behind the comparison.", nullable=True),
    Field("direction", "integer", "+1 / -1: reliably above / below; 0: neither.",
          enum=(-1, 0, 1)),
    Field("scale", "string", enum=("difference", "ratio", "estimate")),
    Field("importance", "number", minimum=0, maximum=1),
), open=True)
VERDICT = Schema("Verdict", "The answer in plain words and the findings it rests on.", (
    Field("text", "string", required=True),
    Field("findings", "array", required=True, items="string"),
))
RESULT = Schema("Result", "The result contract of architecture.md, with figures as URLs.", (
    Field("schema", "integer", "2 with verdict and findings; 1 for older results.",
          required=True),
    Field("question_type", "string", required=True),
    Field("title", "string", required=True),
    Field("answer", "string", "2-4 sentences quoting measured numbers.", required=True),
    Field("summary_markdown", "string", required=True),
    Field("params", "object", required=True),
    Field("preset", "string", required=True),
    Field("rows", "array", "One flat object per measured cell.", required=True, items="object"),
    Field("figures", "array", required=True, schema=FIGURE),
    Field("references", "array", required=True, items="object"),
    Field("provenance", "object", required=True),
    Field("verdict", "object", "Schema 2.", nullable=True, schema=VERDICT),
    Field("findings", "array", "Schema 2.", schema=FINDING),
    Field("reproduce", "string", "The bnlab run command that reruns it (schema 2).",
          nullable=True),
    Field("key_figure", "string", "Name of the figure to show first (schema 2).",
          nullable=True),
), open=True)
JOB = Schema("Job", "One experiment run: its state, and its result once it succeeded.", (
    Field("id", "integer", required=True),
    Field("url", "string", required=True, format="uri-reference"),
    Field("type", "string", required=True),
    Field("preset", "string", required=True, enum=PRESETS),
    Field("params", "object", required=True),
    Field("key", "string", "Hash of type, params, preset and code version.", required=True),
    Field("code_version", "string", required=True),
    Field("status", "string", required=True, enum=JOB_REF.fields[1].enum),
    Field("progress", "number", required=True, minimum=0, maximum=1),
    Field("progress_eta_s", "number", "Seconds until a running job is expected to finish, "
          "extrapolated from its progress (a fraction of the planned training steps) and "
          "its running time; null when it is not running or too little is done to tell.",
          required=True, nullable=True, minimum=0),
    Field("message", "string", required=True),
    Field("attempts", "integer", "How many times a worker started it.", required=True),
    Field("queue", "string", required=True),
    Field("worker", "string", nullable=True, required=True),
    Field("device", "string", nullable=True, required=True),
    Field("error", "string", "Why it failed.", nullable=True, required=True),
    Field("created_at", "string", required=True, format="date-time"),
    Field("started_at", "string", nullable=True, required=True, format="date-time"),
    Field("finished_at", "string", nullable=True, required=True, format="date-time"),
    Field("result", "object", nullable=True, required=True, schema=RESULT),
    Field("data_url", "string", "The rows as CSV, once succeeded.", nullable=True,
          required=True, format="uri-reference"),
    Field("cancel_url", "string", required=True, format="uri-reference"),
))
QUESTION_TYPES = Schema("QuestionTypes", "The catalog: ids, questions, parameter schemas and "
                        "presets.", (
    Field("types", "array", required=True, items="object"),
))
HEALTH = Schema("Health", "Liveness or readiness.", (
    Field("status", "string", required=True),
    Field("checks", "object", "Readiness: check name -> ok or what failed."),
))
