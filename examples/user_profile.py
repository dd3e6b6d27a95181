"""User errors with codes and metadata, and self-destruction."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, UserError, action, setup


class Profile(msgspec.Struct):
    username: str = ""
    email: str = ""


class UserProfile(Actor[Profile]):
    @action
    def update_username(self, username: str) -> str:
        if len(username) < 3:
            raise UserError(
                "Username too short",
                code="username_too_short",
                metadata={"min_length": 3, "actual": len(username)},
            )
        self.state.username = username
        return username

    @action
    def get_profile(self) -> Profile:
        return self.state

    @action
    def delete_account(self) -> None:
        self.destroy()

    def on_destroy(self) -> None:
        self.log.info("account %s deleted", self.state.username)


registry = setup(UserProfile)
