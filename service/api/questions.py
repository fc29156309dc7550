"""POST /api/v1/questions and GET /api/v1/questions/<id>."""

from __future__ import annotations

from flask import current_app, g

from ..db import get_session
from ..models import Question
from ..questions import InvalidQuestion, submit_question
from ..ratelimit import EXTENSION as RATE_LIMITER
from ..router import RouterInputError
from . import bp
from .endpoints import endpoint
from .errors import ApiError
from .schemas import QUESTION, QUESTION_REQUEST
from .serialize import question_json

DISPATCHER = "bnlab.dispatcher"


@endpoint(bp, "POST", "/questions", summary="Ask a question; its experiments are queued",
          body=QUESTION_REQUEST, status=202, response=QUESTION, errors=(413, 429))
def create_question(body: dict):
    retry_after = current_app.extensions[RATE_LIMITER].hit(g.api_key.key_hash[:16])
    if retry_after is not None:
        raise ApiError(429, f"too many questions from this key; retry in {retry_after:.0f} s",
                       headers={"Retry-After": f"{retry_after:.0f}"})
    session = get_session()
    try:
        submission = submit_question(
            session, body["text"], preset=body["preset"], fresh=body["fresh"], source="api",
            asker=g.api_key.name, dispatcher=current_app.extensions[DISPATCHER],
            settings=current_app.config["BNLAB"])
    except RouterInputError as exc:
        raise ApiError(422, str(exc), fields={"text": str(exc)}) from None
    except InvalidQuestion as exc:
        raise ApiError(422, str(exc), fields=exc.fields) from None
    created = {job.id for job in submission.new_jobs}
    body = question_json(submission.question, created_jobs=created)
    return body, 202, {"Location": body["url"]}


@endpoint(bp, "GET", "/questions/<id:question_id>", summary="A question with its asks and "
          "their jobs", response=QUESTION, errors=(404,))
def get_question(question_id: int):
    question = get_session().get(Question, question_id)
    if question is None:
        raise ApiError(404, f"no question {question_id}")
    return question_json(question)
