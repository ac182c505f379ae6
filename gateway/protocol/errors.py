"""ErrorResponse and NoticeResponse: a list of (field code, text) pairs. askgres always
sends severity (``S`` and ``V``), SQLSTATE (``C``) and message (``M``), plus detail
(``D``), hint (``H``) and position (``P``) when known."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from gateway.api import Notice
from gateway.errors import PgError
from gateway.protocol.constants import (
    BE,
    FIELD_CODE,
    FIELD_DETAIL,
    FIELD_HINT,
    FIELD_MESSAGE,
    FIELD_POSITION,
    FIELD_SEVERITY,
    FIELD_SEVERITY_NONLOCALIZED,
)
from gateway.protocol.framing import Cursor, Message


@dataclass
class _Fields(Message):
    severity: str = "ERROR"
    code: str = "XX000"
    message: str = ""
    detail: str | None = None
    hint: str | None = None
    position: int | None = None

    def payload(self) -> bytes:
        fields: list[tuple[bytes, str | None]] = [
            (FIELD_SEVERITY, self.severity),
            (FIELD_SEVERITY_NONLOCALIZED, self.severity),
            (FIELD_CODE, self.code),
            (FIELD_MESSAGE, self.message),
            (FIELD_DETAIL, self.detail),
            (FIELD_HINT, self.hint),
            (FIELD_POSITION, None if self.position is None else str(self.position)),
        ]
        out = b"".join(k + v.encode() + b"\x00" for k, v in fields if v is not None)
        return out + b"\x00"

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        """Decode the fields (for clients and tests); unknown field codes are skipped."""
        cur = Cursor(payload)
        raw: dict[bytes, str] = {}
        while (code := cur.byte()) != b"\x00":
            raw[code] = cur.cstring()
        cur.done()
        pos = raw.get(FIELD_POSITION)
        return cls(
            severity=raw.get(FIELD_SEVERITY_NONLOCALIZED, raw.get(FIELD_SEVERITY, "")),
            code=raw.get(FIELD_CODE, ""),
            message=raw.get(FIELD_MESSAGE, ""),
            detail=raw.get(FIELD_DETAIL),
            hint=raw.get(FIELD_HINT),
            position=int(pos) if pos and pos.isdigit() else None,
        )


@dataclass
class ErrorResponse(_Fields):
    type: ClassVar[bytes] = BE.ERROR_RESPONSE

    @classmethod
    def of(cls, error: PgError) -> ErrorResponse:
        pos = error.context.get("position")
        return cls(
            severity=error.severity,
            code=error.sqlstate,
            message=error.message,
            detail=error.detail,
            hint=error.hint,
            position=pos if isinstance(pos, int) else None,
        )


@dataclass
class NoticeResponse(_Fields):
    type: ClassVar[bytes] = BE.NOTICE_RESPONSE
    severity: str = "NOTICE"
    code: str = "00000"

    @classmethod
    def of(cls, notice: Notice) -> NoticeResponse:
        return cls(severity=notice.severity, code=notice.code, message=notice.message, detail=notice.detail)
