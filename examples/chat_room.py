"""A chat room: connections with params and per-connection state, events, targeted sends."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, Conn, UserError, action, event, setup


class Message(msgspec.Struct):
    user: str
    text: str


class ChatState(msgspec.Struct):
    messages: list[Message] = msgspec.field(default_factory=list)
    name: str | None = None


class RoomInput(msgspec.Struct):
    room_name: str


class ConnParams(msgspec.Struct):
    user_id: str
    token: str = ""


class ConnState(msgspec.Struct):
    user_id: str


class Notification(msgspec.Struct):
    text: str


class Identity(msgspec.Struct):
    connection_id: str | None
    user_id: str | None


class ChatRoom(Actor[ChatState], icon="💬", display_name="Chat Room"):
    """One chat room per key: `client.get_or_create("chat_room", ["org-acme", "general"])`."""

    @event
    def new_message(self, message: Message) -> None: ...

    @event
    def notification(self, notification: Notification) -> None: ...

    def create_state(self, input: object) -> ChatState:
        room = msgspec.convert(input, RoomInput) if input is not None else None
        return ChatState(name=room.room_name if room else None)

    def on_before_connect(self, params: object) -> None:
        # HTTP calls open a connection too (as in Rivet); without params they are anonymous.
        if params is None:
            return
        parsed = msgspec.convert(params, ConnParams)
        if parsed.token == "banned":
            raise UserError("This token may not join the room", code="forbidden")

    def create_conn_state(self, params: object) -> ConnState:
        if params is None:
            return ConnState(user_id="anonymous")
        return ConnState(user_id=msgspec.convert(params, ConnParams).user_id)

    @action
    def send_message(self, text: str) -> Message:
        """Post as the calling connection's user and broadcast it."""
        conn = self.conn
        user = conn.state.user_id if conn is not None and conn.state is not None else "anonymous"
        if not text.strip():
            raise UserError("A message cannot be empty", code="empty_message")
        message = Message(user=user, text=text)
        self.state.messages.append(message)
        self.new_message(message)
        return message

    @action
    def who_am_i(self) -> Identity:
        conn = self.conn
        return Identity(
            connection_id=conn.id if conn is not None else None,
            user_id=conn.state.user_id if conn is not None else None,
        )

    @action
    def notify_others(self, text: str) -> int:
        """Send a notification to every connection except the caller; returns how many."""
        sent = 0
        for other in self.conns.values():
            if other is not self.conn:
                self.notification.send_to(other, Notification(text=text))
                sent += 1
        return sent

    @action
    def get_history(self) -> list[Message]:
        return self.state.messages

    @action
    def get_room_name(self) -> str | None:
        return self.state.name

    def on_connect(self, conn: Conn) -> None:
        self.log.info("connected: %s", conn.state.user_id)


registry = setup(ChatRoom)
