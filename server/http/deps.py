"""Request dependencies: the services, reader keys and the admin token."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from server.wiring import Services


def get_services(request: Request) -> Services:
    """The app's services."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _presented(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return request.headers.get("x-api-key")


def require_reader(request: Request, services: ServicesDep) -> None:
    """When CLUSTERCHAT_API_KEYS is set, read endpoints need one of those keys."""
    keys = services.settings.api_keys
    if not keys:
        return
    token = _presented(request)
    if token is None:
        raise HTTPException(
            401,
            "an API key is required (Authorization: Bearer KEY)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not any(hmac.compare_digest(token.encode(), k.get_secret_value().encode()) for k in keys):
        raise HTTPException(403, "invalid API key")


def require_admin(request: Request, services: ServicesDep) -> None:
    """Admin endpoints need CLUSTERCHAT_ADMIN_TOKEN; without one configured they are off."""
    expected = services.settings.admin_token
    if expected is None:
        raise HTTPException(403, "the admin API is disabled: set CLUSTERCHAT_ADMIN_TOKEN")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            401,
            "admin token required (Authorization: Bearer TOKEN)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(token.strip().encode(), expected.get_secret_value().encode()):
        raise HTTPException(403, "invalid admin token")


Reader = Depends(require_reader)
Admin = Depends(require_admin)
