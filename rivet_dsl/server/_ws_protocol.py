"""uvicorn's WebSocket protocol (websockets, sans-I/O), answering handshakes it cannot parse.

websockets refuses an opening handshake whose request line or a header line is longer than
8 KiB (``WEBSOCKETS_MAX_LINE_LENGTH``) while parsing it, and queues a 414 or 431 response;
uvicorn's protocol (0.54) never writes that response, so the client waits for an answer until
its own open timeout. Connection params travel in ``Sec-WebSocket-Protocol``: params of a few
KiB (percent-encoded, up to 3 bytes per byte) hit this. This protocol sends the refusal and
closes the connection, so the client fails at once with the status.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["WebSocketProtocol"]


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.handshake_initiated and self.conn.handshake_exc is not None:
            # Refused while parsing: no request reached the app. Send what websockets wrote.
            output = self.conn.data_to_send()
            if output:
                self.transport.write(b"".join(output))
            self.transport.close()
