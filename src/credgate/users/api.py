"""Admin REST API for classic users and profiles. Thin: parse, call the service, shape."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from credgate.core.paging import Page, PageRequest
from credgate.core.services import provided
from credgate.core.strict import StrictModel
from credgate.users.services import ProfileView, UserService, UserView
from credgate.web.api import AdminActor, CurrentAdmin
from credgate.web.api_lists import page_route

__all__ = ["router"]

router = APIRouter(prefix="/admin/api/v1", tags=["Classic users"])

Users = Annotated[UserService, Depends(provided(UserService))]


class ProfileIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    data_privacy: Literal["none", "partial", "full"]
    finder_access: bool = False


class UserIn(StrictModel):
    username: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=1000, repr=False)]
    profile: Annotated[str, Field(min_length=1, max_length=100)]


@page_route(router, "/profiles", UserService, summary="List profiles")
def list_profiles(users: UserService, paging: PageRequest) -> Page[dict[str, Any]]:
    return users.page_profiles(paging).map(ProfileView.as_dict)


@router.post("/profiles", status_code=201, summary="Create a profile")
def create_profile(body: ProfileIn, users: Users, actor: AdminActor) -> dict[str, Any]:
    return users.create_profile(
        body.name,
        data_privacy=body.data_privacy,
        finder_access=body.finder_access,
        actor=actor,
    ).as_dict()


@router.delete("/profiles/{name}", status_code=204, summary="Delete a profile no user has")
def delete_profile(name: str, users: Users, actor: AdminActor) -> Response:
    users.delete_profile(name, actor=actor)
    return Response(status_code=204)


@page_route(router, "/users", UserService, summary="List classic users")
def list_users(users: UserService, paging: PageRequest) -> Page[dict[str, Any]]:
    return users.page_users(paging).map(UserView.as_dict)


@router.post("/users", status_code=201, summary="Create a classic user")
def create_user(body: UserIn, users: Users, actor: AdminActor) -> dict[str, Any]:
    return users.create_user(
        body.username,
        body.password,
        profile=body.profile,
        actor=actor,
    ).as_dict()


@router.get("/users/{username}", summary="Show a classic user")
def get_user(username: str, users: Users, _admin: CurrentAdmin) -> dict[str, Any]:
    return users.get_user(username).as_dict()


@router.delete("/users/{username}", status_code=204, summary="Delete a classic user")
def delete_user(username: str, users: Users, actor: AdminActor) -> Response:
    users.delete_user(username, actor=actor)
    return Response(status_code=204)
