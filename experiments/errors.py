"""Typed errors raised by experiments; callers map them to CLI exits, HTTP errors or failures."""


class ExperimentError(Exception):
    """Base class for every error an experiment raises on purpose."""


class UnknownQuestionType(ExperimentError, KeyError):
    def __init__(self, type_id: str, valid: list[str]):
        self.type_id, self.valid = type_id, valid
        super().__init__(f"unknown question type {type_id!r}; valid: {', '.join(valid)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class ParamError(ExperimentError, ValueError):
    """A parameter or preset is unknown or out of range; `field` names the parameter."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class NotImplementedQuestion(ExperimentError):
    """The question type is in the catalog but has no experiment yet."""
