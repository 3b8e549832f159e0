"""Classic users and profiles: create, list, delete, and check a password.

Passwords are hashed with argon2id (:mod:`credgate.security.passwords`). Every change appends an
audit entry that names the fields, never a password.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from credgate.core.audit.services import Actor, record
from credgate.core.db import Database
from credgate.core.errors import ConflictError, FieldError, InvalidInputError, found
from credgate.core.paging import Page, PageRequest, keyset_page
from credgate.core.views import wire_dict
from credgate.security.passwords import hash_password, needs_rehash, verify_password
from credgate.users.models import DATA_PRIVACY_LEVELS, Profile, User

__all__ = ["ClassicUser", "ProfileView", "UserService", "UserView"]

M = TypeVar("M", Profile, User)
V = TypeVar("V")

MIN_PASSWORD = 12


@dataclass(frozen=True, slots=True)
class ProfileView:
    id: int
    name: str
    data_privacy: str
    finder_access: bool

    @property
    def may_use_classic_apis(self) -> bool:
        """Data privacy "none" (full access) and Finder access: the documented condition."""
        return self.data_privacy == "none" and self.finder_access

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    username: str
    profile: ProfileView
    disabled: bool

    def as_dict(self) -> dict[str, Any]:
        # The profile by name, in its place among the fields.
        return {**wire_dict(self), "profile": self.profile.name}


ClassicUser = UserView
"""A user whose password was just checked."""


def _profile_view(row: Profile) -> ProfileView:
    return ProfileView(row.id, row.name, row.data_privacy, row.finder_access)


def _user_view(row: User) -> UserView:
    return UserView(row.id, row.username, _profile_view(row.profile), row.disabled)


def _check_name(field: str, value: str, errors: list[FieldError]) -> str:
    clean = value.strip()
    if not clean or len(clean) > 100:
        errors.append(FieldError(field, "must be 1 to 100 characters"))
    elif ":" in clean and field == "username":
        errors.append(FieldError(field, "must not contain ':' (HTTP Basic separates on it)"))
    return clean


def _named(
    session: Session, model: type[M], name: InstrumentedAttribute[str], value: str, noun: str
) -> M:
    """The profile or user of that name; a 404 that names it when there is none."""
    return found(session.scalar(select(model).where(name == value)), f"no {noun} named {value!r}")


class UserService:
    def __init__(self, db: Database) -> None:
        self._db = db

    # Profiles ---------------------------------------------------------------------------------

    def create_profile(
        self, name: str, *, data_privacy: str, finder_access: bool, actor: Actor
    ) -> ProfileView:
        errors: list[FieldError] = []
        clean = _check_name("name", name, errors)
        if data_privacy not in DATA_PRIVACY_LEVELS:
            errors.append(
                FieldError(
                    "data_privacy",
                    f"{data_privacy!r} is not one of: {', '.join(DATA_PRIVACY_LEVELS)}",
                )
            )
        if errors:
            raise InvalidInputError(errors)
        with self._db.session() as session:
            if session.scalar(select(Profile.id).where(Profile.name == clean)) is not None:
                raise ConflictError("name", f"a profile named {clean!r} already exists")
            row = Profile(name=clean, data_privacy=data_privacy, finder_access=finder_access)
            session.add(row)
            session.flush()
            record(
                session,
                actor,
                "profile.create",
                "profile",
                clean,
                ["name", "data_privacy", "finder_access"],
            )
            return _profile_view(row)

    def list_profiles(self) -> list[ProfileView]:
        return self._every(Profile, Profile.name, _profile_view)

    def page_profiles(self, request: PageRequest) -> Page[ProfileView]:
        """One page of profiles, by name; ``q`` finds a part of it."""
        return self._page(Profile, Profile.name, _profile_view, request)

    def delete_profile(self, name: str, *, actor: Actor) -> None:
        with self._db.session() as session:
            row = _named(session, Profile, Profile.name, name, "profile")
            if session.scalar(select(User.id).where(User.profile_id == row.id).limit(1)):
                raise ConflictError("name", f"the profile {name!r} is still given to users")
            session.delete(row)
            record(session, actor, "profile.delete", "profile", name)

    # Profiles and users are listed the same way: by their unique name, which ``q`` searches.

    def _every(
        self, model: type[M], name: InstrumentedAttribute[str], view: Callable[[M], V]
    ) -> list[V]:
        with self._db.session() as session:
            return [view(row) for row in session.scalars(select(model).order_by(name))]

    def _page(
        self,
        model: type[M],
        name: InstrumentedAttribute[str],
        view: Callable[[M], V],
        request: PageRequest,
    ) -> Page[V]:
        with self._db.session() as session:
            page = keyset_page(session, select(model), request, order=[name], search=[name])
            return page.map(view)

    # Users ------------------------------------------------------------------------------------

    def create_user(self, username: str, password: str, *, profile: str, actor: Actor) -> UserView:
        errors: list[FieldError] = []
        clean = _check_name("username", username, errors)
        if len(password) < MIN_PASSWORD:
            errors.append(FieldError("password", f"must be at least {MIN_PASSWORD} characters"))
        if errors:
            raise InvalidInputError(errors)
        with self._db.session() as session:
            found = session.scalar(select(Profile).where(Profile.name == profile))
            if found is None:
                raise InvalidInputError([FieldError("profile", f"no profile named {profile!r}")])
            if session.scalar(select(User.id).where(User.username == clean)) is not None:
                raise ConflictError("username", f"a user named {clean!r} already exists")
            row = User(username=clean, password_hash=hash_password(password), profile=found)
            session.add(row)
            session.flush()
            record(
                session, actor, "user.create", "user", clean, ["username", "password", "profile"]
            )
            return _user_view(row)

    def list_users(self) -> list[UserView]:
        return self._every(User, User.username, _user_view)

    def page_users(self, request: PageRequest) -> Page[UserView]:
        """One page of classic users, by user name; ``q`` finds a part of it."""
        return self._page(User, User.username, _user_view, request)

    def get_user(self, username: str) -> UserView:
        with self._db.session() as session:
            return _user_view(_named(session, User, User.username, username, "user"))

    def delete_user(self, username: str, *, actor: Actor) -> None:
        with self._db.session() as session:
            session.delete(_named(session, User, User.username, username, "user"))
            record(session, actor, "user.delete", "user", username)

    def check_password(self, username: str, password: str) -> UserView | None:
        """The user when the password is right and the account enabled, else None.

        An unknown user costs the same argon2 verification as a known one.
        """
        with self._db.session() as session:
            row = session.scalar(select(User).where(User.username == username))
            ok = verify_password(password, row.password_hash if row else None)
            if not ok or row is None or row.disabled:
                return None
            if needs_rehash(row.password_hash):
                row.password_hash = hash_password(password)
            return _user_view(row)
