"""Every byte and number of the PostgreSQL v3 protocol that askgres speaks, in one place.

Frontend (client to server) and backend (server to client) message types share letters
(``C`` is Close from a client and CommandComplete from the server), so they live in two
namespaces: :class:`FE` and :class:`BE`.
"""

from __future__ import annotations

from typing import Final


class FE:
    """Frontend message type bytes."""

    BIND: Final = b"B"
    CLOSE: Final = b"C"
    COPY_DATA: Final = b"d"
    COPY_DONE: Final = b"c"
    COPY_FAIL: Final = b"f"
    DESCRIBE: Final = b"D"
    EXECUTE: Final = b"E"
    FLUSH: Final = b"H"
    FUNCTION_CALL: Final = b"F"
    PARSE: Final = b"P"
    PASSWORD: Final = b"p"  # PasswordMessage, SASLInitialResponse, SASLResponse
    QUERY: Final = b"Q"
    SYNC: Final = b"S"
    TERMINATE: Final = b"X"


class BE:
    """Backend message type bytes."""

    AUTHENTICATION: Final = b"R"
    BACKEND_KEY_DATA: Final = b"K"
    BIND_COMPLETE: Final = b"2"
    CLOSE_COMPLETE: Final = b"3"
    COMMAND_COMPLETE: Final = b"C"
    COPY_DATA: Final = b"d"
    COPY_DONE: Final = b"c"
    COPY_OUT_RESPONSE: Final = b"H"
    DATA_ROW: Final = b"D"
    EMPTY_QUERY_RESPONSE: Final = b"I"
    ERROR_RESPONSE: Final = b"E"
    NEGOTIATE_PROTOCOL_VERSION: Final = b"v"
    NO_DATA: Final = b"n"
    NOTICE_RESPONSE: Final = b"N"
    PARAMETER_DESCRIPTION: Final = b"t"
    PARAMETER_STATUS: Final = b"S"
    PARSE_COMPLETE: Final = b"1"
    PORTAL_SUSPENDED: Final = b"s"
    READY_FOR_QUERY: Final = b"Z"
    ROW_DESCRIPTION: Final = b"T"


# Codes in the untyped startup packet (where a message type byte would be: the version).
PROTOCOL_3_0: Final = 3 << 16  # 196608
CANCEL_REQUEST_CODE: Final = 80877102  # 1234 << 16 | 5678
SSL_REQUEST_CODE: Final = 80877103  # 1234 << 16 | 5679
GSSENC_REQUEST_CODE: Final = 80877104  # 1234 << 16 | 5680

# The answer to SSLRequest and GSSENCRequest: not supported, go on in plain text.
REFUSE_ENCRYPTION: Final = b"N"

# Authentication request codes (the int32 after the ``R``).
AUTH_OK: Final = 0
AUTH_CLEARTEXT_PASSWORD: Final = 3
AUTH_SASL: Final = 10
AUTH_SASL_CONTINUE: Final = 11
AUTH_SASL_FINAL: Final = 12

# Describe / Close targets.
TARGET_STATEMENT: Final = b"S"
TARGET_PORTAL: Final = b"P"

# Format codes.
FORMAT_TEXT: Final = 0
FORMAT_BINARY: Final = 1

# Limits. PostgreSQL refuses startup packets over 10000 bytes and messages over 1 GB.
MAX_STARTUP_LENGTH: Final = 10000
MAX_MESSAGE_LENGTH: Final = 1 << 30

# ErrorResponse / NoticeResponse field codes.
FIELD_SEVERITY: Final = b"S"
FIELD_SEVERITY_NONLOCALIZED: Final = b"V"
FIELD_CODE: Final = b"C"
FIELD_MESSAGE: Final = b"M"
FIELD_DETAIL: Final = b"D"
FIELD_HINT: Final = b"H"
FIELD_POSITION: Final = b"P"
FIELD_WHERE: Final = b"W"
