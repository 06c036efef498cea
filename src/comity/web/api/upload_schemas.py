"""Shapes of the resumable-upload API (:mod:`comity.web.api.uploads`)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from comity.vault.ingest import AddResult
from comity.vault.inputs import MAX_DETAIL_LENGTH, Acquisition
from comity.vault.uploads import UploadState


class AcquisitionIn(BaseModel):
    """How the file was acquired, as the person adding it tells it (all optional)."""

    model_config = ConfigDict(extra="forbid")

    who: str = Field(default="", max_length=MAX_DETAIL_LENGTH)
    when: str = Field(default="", max_length=MAX_DETAIL_LENGTH)
    where: str = Field(default="", max_length=MAX_DETAIL_LENGTH)
    how: str = Field(default="", max_length=MAX_DETAIL_LENGTH)
    tool: str = Field(default="", max_length=MAX_DETAIL_LENGTH)

    def to_acquisition(self) -> Acquisition:
        return Acquisition(
            who=self.who, when=self.when, where=self.where, how=self.how, tool=self.tool
        )


class UploadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, description="The file's original name.")
    size: int = Field(description="The file's size in bytes (more than 0).")
    acquisition: AcquisitionIn = Field(default_factory=AcquisitionIn)


class UploadOut(BaseModel):
    """Where an upload stands: send the next chunk from ``received``."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    size: int
    received: int
    status: str = Field(description="open, complete, cancelled or expired.")
    item_id: str | None = Field(description="The item it became, once complete.")
    chunk_size: int = Field(description="The largest chunk the node takes in one request.")
    expires_at: dt.datetime = Field(description="When it expires unless a chunk comes first.")

    @classmethod
    def of(cls, state: UploadState) -> UploadOut:
        return cls.model_validate(state)


class ItemAddedOut(BaseModel):
    """The item holding the uploaded bytes; ``created`` is false when it was already held."""

    id: str
    name: str
    sha256: str
    size: int
    media_type: str
    created: bool
    near_duplicates: list[str]

    @classmethod
    def of(cls, added: AddResult) -> ItemAddedOut:
        return cls(
            id=added.item_id,
            name=added.name,
            sha256=added.sha256,
            size=added.size,
            media_type=added.media_type,
            created=added.created,
            near_duplicates=list(added.near_duplicates),
        )
