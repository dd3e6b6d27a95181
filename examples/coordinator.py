"""Coordinator and data actors: a room list that creates chat rooms through `self.client()`."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, UserError, action, setup


class RoomListState(msgspec.Struct):
    rooms: list[str] = msgspec.field(default_factory=list)


class RoomState(msgspec.Struct):
    messages: list[str] = msgspec.field(default_factory=list)


class Room(Actor[RoomState]):
    """Data actor: one room, keyed [org, room]."""

    @action
    def send(self, message: str) -> int:
        self.state.messages.append(message)
        return len(self.state.messages)

    @action
    def get_messages(self) -> list[str]:
        return self.state.messages


class RoomList(Actor[RoomListState]):
    """Coordinator: tracks the rooms of one organization (its key)."""

    @action
    async def add_room(self, name: str) -> str:
        """Create the room actor, then remember it; returns the new actor's id."""
        if not self.key:
            raise UserError("A room list is keyed by its organization: get_or_create('room_list', [org])", code="missing_org")
        handle = await self.client().create("room", [self.key[0], name])
        self.state.rooms.append(name)
        return await handle.resolve()

    @action
    def list_rooms(self) -> list[str]:
        return self.state.rooms


registry = setup(RoomList, Room)
