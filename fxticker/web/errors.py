"""The web tier's error family: each carries an HTTP status and a message safe to show."""

from __future__ import annotations


def error_body(status: int, message: str) -> dict[str, object]:
    """Every error answer's JSON body, the app's and the server's own (fxticker.serve)."""
    return {"status": status, "message": message}


class ApiError(Exception):
    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BadInput(ApiError):
    status = 422


class NotFound(ApiError):
    status = 404


class Unavailable(ApiError):
    status = 503
