"""OGC API - Processes 1.0 documents as models, for the OpenAPI document only.

The routes build these documents as dicts (:func:`geoeco_api.routers.jobs.status_info`,
:func:`geoeco_api.routers.processes.list_processes`, ...); the models describe them in
``/openapi.json`` (``responses={200: {"model": ...}}``), so clients and schemathesis's
response check know their shape: ``statusInfo``, ``jobList``, ``processList`` and the
process description of the standard, each open to extra members (``attempt``,
``exception``, ``jobToken``, ...) as the standard's schemas are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from geoeco.service.job_model import JobStatus


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Link(_Open):
    """A web link (``href`` required)."""

    href: str
    rel: str | None = None
    type: str | None = None
    title: str | None = None


class StatusInfo(_Open):
    """A job's status document; times not reached yet are absent."""

    jobID: str
    status: JobStatus
    type: Literal["process"]
    processID: str | None = None
    message: str | None = None
    created: datetime | None = None
    started: datetime | None = None
    finished: datetime | None = None
    updated: datetime | None = None
    progress: int | None = Field(default=None, ge=0, le=100, description="Percent done.")
    links: list[Link] = []


class JobList(_Open):
    """A page of jobs, newest first."""

    jobs: list[StatusInfo]
    links: list[Link]
    numberMatched: int | None = None
    numberReturned: int | None = None


JobControl = Literal["sync-execute", "async-execute", "dismiss"]


class ProcessSummary(_Open):
    """A process in the list: id, version, title, how it can run, links."""

    id: str
    version: str
    title: str | None = None
    description: str | None = None
    keywords: list[str] = []
    jobControlOptions: list[JobControl] = []
    outputTransmission: list[Literal["value", "reference"]] = []
    links: list[Link] = []


class ProcessList(_Open):
    """Every process of the service."""

    processes: list[ProcessSummary]
    links: list[Link]


class ParameterDescription(_Open):
    """An input or output: title, description and its OpenAPI 3.0 ``schema``."""

    title: str | None = None
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema")
    minOccurs: int | None = None
    maxOccurs: int | Literal["unbounded"] | None = None


class ProcessDescription(ProcessSummary):
    """A process with its inputs and outputs."""

    inputs: dict[str, ParameterDescription] = {}
    outputs: dict[str, ParameterDescription] = {}


__all__ = [
    "JobList",
    "Link",
    "ParameterDescription",
    "ProcessDescription",
    "ProcessList",
    "ProcessSummary",
    "StatusInfo",
]
