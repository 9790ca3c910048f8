"""The registry version a spec runs, recorded in the spec for lineage and evidence."""

from __future__ import annotations

from pydantic import Field

from twinops.sim.profiles import SpecModel


class RegistryRef(SpecModel):
    """Set by the job service when a spec named ``model: registry:<name>@<version or alias>``."""

    name: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)
    alias: str | None = Field(default=None, max_length=64)
