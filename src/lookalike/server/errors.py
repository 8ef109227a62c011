"""Library errors -> HTTP answers. Routes raise; only this edge translates. Every error
answer is JSON with a message, `{"detail": ...}` (unexpected failures: see
middleware.AnswerUnexpectedErrors)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..errors import (CorruptImage, DecodeError, FileChanged, FileGone, ImageTooLarge, LookalikeError, NotAnImage,
                      NotInCollection, NothingToUndo, UnknownKeepRule)


def status_for(error: LookalikeError) -> int:
    if isinstance(error, NotInCollection):
        return 404
    if isinstance(error, FileGone):
        return 410
    if isinstance(error, (NothingToUndo, FileChanged)):
        return 409
    if isinstance(error, UnknownKeepRule):
        return 422
    if isinstance(error, ImageTooLarge):
        # Too many bytes: the request is too large. Too many pixels: the request was fine,
        # the image it carries is refused.
        return 413 if error.unit == "bytes" else 422
    if isinstance(error, NotAnImage):
        return 415
    if isinstance(error, (CorruptImage, DecodeError)):
        return 422
    return 500


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LookalikeError)
    async def lookalike_error(_: Request, error: LookalikeError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=status_for(error))
