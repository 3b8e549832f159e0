"""Classic users and profiles: the service, on both back ends."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.errors import ConflictError, InvalidInputError, NotFoundError
from credgate.users.models import User

ACTOR = Actor("tests", "pytest")
PASSWORD = "a long enough password"


def test_profiles_and_users_round_trip(container: Container) -> None:
    users = container.users
    profile = users.create_profile("analysts", data_privacy="none", finder_access=True, actor=ACTOR)
    assert profile.may_use_classic_apis
    partial = users.create_profile(
        "viewers", data_privacy="partial", finder_access=True, actor=ACTOR
    )
    assert not partial.may_use_classic_apis
    assert [p.name for p in users.list_profiles()] == ["analysts", "viewers"]

    created = users.create_user("  carol ", PASSWORD, profile="analysts", actor=ACTOR)
    assert created.as_dict() == {
        "id": created.id,
        "username": "carol",
        "profile": "analysts",
        "disabled": False,
    }
    assert [u.username for u in users.list_users()] == ["carol"]
    assert users.get_user("carol").profile.finder_access is True

    with container.db.session() as session:
        row = session.scalar(select(User).where(User.username == "carol"))
        assert row is not None
        assert row.password_hash.startswith("$argon2id$")
        assert PASSWORD not in row.password_hash
        assert PASSWORD not in repr(row)

    checked = users.check_password("carol", PASSWORD)
    assert checked is not None
    assert checked.profile.name == "analysts"
    assert users.check_password("carol", PASSWORD + "x") is None
    assert users.check_password("nobody", PASSWORD) is None

    with pytest.raises(ConflictError):
        users.delete_profile("analysts", actor=ACTOR)
    users.delete_user("carol", actor=ACTOR)
    users.delete_profile("analysts", actor=ACTOR)
    assert [p.name for p in users.list_profiles()] == ["viewers"]
    with pytest.raises(NotFoundError):
        users.delete_user("carol", actor=ACTOR)
    with pytest.raises(NotFoundError):
        users.get_user("carol")


def test_bad_input_names_every_field(container: Container) -> None:
    users = container.users
    with pytest.raises(InvalidInputError) as info:
        users.create_profile("", data_privacy="some", finder_access=True, actor=ACTOR)
    assert {e.field for e in info.value.errors} == {"name", "data_privacy"}
    users.create_profile("p", data_privacy="full", finder_access=False, actor=ACTOR)
    with pytest.raises(ConflictError):
        users.create_profile("p", data_privacy="none", finder_access=True, actor=ACTOR)
    with pytest.raises(InvalidInputError) as info:
        users.create_user("a:b", "short", profile="p", actor=ACTOR)
    assert {e.field for e in info.value.errors} == {"username", "password"}
    assert "short" not in str(info.value)
    with pytest.raises(InvalidInputError) as info:
        users.create_user("dave", PASSWORD, profile="missing", actor=ACTOR)
    assert [e.field for e in info.value.errors] == ["profile"]
    users.create_user("dave", PASSWORD, profile="p", actor=ACTOR)
    with pytest.raises(ConflictError):
        users.create_user("dave", PASSWORD, profile="p", actor=ACTOR)
