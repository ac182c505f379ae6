"""The PostgreSQL v3 wire protocol as a sans-IO codec: bytes in, message objects out, and
back. One module per message family (:mod:`.startup`, :mod:`.simple`, :mod:`.extended`,
:mod:`.errors`, :mod:`.copy`, :mod:`.rows`), type bytes in :mod:`.constants`, value
formats in :mod:`.types`, framing in :mod:`.reader`. Nothing here touches a socket."""

from __future__ import annotations

from gateway.protocol.reader import FRONTEND, Reader

__all__ = ["FRONTEND", "Reader"]
