"""The qbwc-gateway service: health endpoints now; the SOAP endpoint and console mount here."""

from __future__ import annotations

from fastapi import FastAPI

from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.service import ServiceRuntime, create_service_app


def create_runtime(settings: AppSettings) -> ServiceRuntime:
    return ServiceRuntime(name="gateway", settings=settings)


def create_app(settings: AppSettings) -> FastAPI:
    return create_service_app(create_runtime(settings))
