"""Request and response bodies of the admin API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from orin.models.user import Plan, UserRole

# --- audit -------------------------------------------------------------------------------------


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor_id: str | None
    action: str
    target_type: str
    target_id: str
    ip: str
    user_agent: str
    details: dict[str, Any]
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_before_seq: int | None = Field(
        description="Pass as `before_seq` for the next (older) page; null on the last page."
    )


# --- analytics ---------------------------------------------------------------------------------


class UserFigures(BaseModel):
    total: int = Field(description="Accounts.")
    active: int = Field(
        description="Accounts with a session seen in the window (signed in, or renewed their "
        "access token, which a client in use does at least hourly)."
    )
    disabled: int = Field(description="Accounts an admin disabled.")
    admins: int = Field(description="Accounts with the admin role.")
    by_plan: dict[Plan, int] = Field(description="Accounts per plan; every plan listed.")


class CameraFigures(BaseModel):
    total: int
    enabled: int = Field(description="Cameras not switched off by their owners.")
    online: int
    offline: int = Field(description="Every camera that is not `online`.")
    by_status: dict[str, int] = Field(
        description="Cameras per status (`unknown`, `connecting`, `online`, `offline`, `error`)."
    )


class GuardFigures(BaseModel):
    total: int
    active: int
    by_state: dict[str, int] = Field(description="Guards per state; every state listed.")


class Bucket(BaseModel):
    start: datetime = Field(description="UTC start of the bucket.")
    count: int


class Series(BaseModel):
    """Counts per fixed-width UTC bucket, oldest first; buckets with nothing are listed as 0."""

    bucket_s: int = Field(description="Width of each bucket in seconds.")
    total: int
    buckets: list[Bucket]


class CatchFigures(BaseModel):
    in_window: int = Field(description="Catches that started in the window.")
    per_minute: Series = Field(description="The last 60 minutes, one bucket per minute.")
    over_window: Series = Field(
        description="The window in at most 361 buckets (1 min up to 6 h, 5 min for a day, "
        "30 min for a week, 3 h for 30 days), from `since` to the bucket holding now."
    )
    per_day: Series = Field(description="The last 30 UTC days, today included.")
    reviewed: int = Field(
        description="Catches in the window reviewed `confirmed`, `false_alarm` or `resolved`."
    )
    false_alarms: int = Field(description="Catches in the window reviewed `false_alarm`.")
    false_alarm_rate: float | None = Field(
        description="`false_alarms / reviewed`; null when none was reviewed."
    )


class ChannelOutcomes(BaseModel):
    channel: str
    total: int
    by_status: dict[str, int] = Field(
        description="Deliveries per status (`queued`, `sending`, `sent`, `failed`, `dead`, "
        "`held`, `suppressed`); every status listed."
    )


class Analytics(BaseModel):
    """Platform figures: accounts, cameras, guards, catches and notification outcomes."""

    generated_at: datetime
    window: str = Field(description="The window asked for, e.g. `24h`.")
    window_s: int
    since: datetime = Field(description="Start of the window.")
    users: UserFigures
    cameras: CameraFigures
    guards: GuardFigures
    catches: CatchFigures
    notifications: list[ChannelOutcomes] = Field(
        description="Deliveries created in the window, per channel (every known channel listed)."
    )


# --- system ------------------------------------------------------------------------------------


class ProcessOut(BaseModel):
    process_id: str
    role: str = Field(description="The roles the process plays, joined by `+` (`api+worker`).")
    hostname: str
    pid: int
    version: str
    started_at: datetime
    last_heartbeat_at: datetime
    seconds_since_heartbeat: float
    alive: bool = Field(description="A heartbeat came within `alive_threshold_s`.")


class QueueOut(BaseModel):
    name: str
    depth: int = Field(description="Messages ready to be consumed.")
    dead_letters: int = Field(description="Messages parked in the queue's dead-letter queue.")


class StorageOut(BaseModel):
    backend: str = Field(description="`s3` or `local`.")
    recordings_bytes: int
    recordings_objects: int
    method: str = Field(description="How the figures were computed.")


class DatabaseOut(BaseModel):
    backend: str = Field(description="`postgresql` or `sqlite`.")
    size_bytes: int | None = Field(
        description="`pg_database_size` on PostgreSQL; page count times page size on SQLite (the "
        "write-ahead log not included); null when it could not be read."
    )


class SystemStatus(BaseModel):
    """What runs and how the shared infrastructure is doing."""

    checked_at: datetime
    heartbeat_interval_s: float
    alive_threshold_s: float
    processes: list[ProcessOut]
    queues: list[QueueOut]
    queues_error: str | None = Field(
        None, description="Why the bus could not be asked, when it could not."
    )
    storage: StorageOut
    database: DatabaseOut


# --- users -------------------------------------------------------------------------------------


class AdminUserOut(BaseModel):
    """An account as an admin sees it."""

    id: str
    email: str
    display_name: str
    role: UserRole
    plan: Plan
    email_verified: bool
    mfa_enabled: bool
    disabled: bool
    created_at: datetime
    last_seen_at: datetime | None = Field(
        description="Latest activity of any of the account's sessions; null if it has none."
    )


class AdminUserUpdate(BaseModel):
    """What an admin may change on an account; at least one field."""

    model_config = ConfigDict(extra="forbid")

    disabled: bool | None = Field(
        None,
        description="True signs the account out everywhere at once and refuses its password "
        "sign-ins; false lets it sign in again. An admin cannot disable themselves (409).",
    )
    plan: Plan | None = Field(None, description="The subscription plan.")

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.disabled is None and self.plan is None:
            raise ValueError("give `disabled` or `plan`")
        return self
