"""Request and response bodies of the guards API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from orin.guards.rule import Rule
from orin.models.guard import GuardState

MAX_INSTRUCTION_BODY = 2000
"""Longer bodies are refused as bad input (422); the compiler itself explains past 500."""

InstructionText = Field(
    min_length=1,
    max_length=MAX_INSTRUCTION_BODY,
    description="What to watch for, in plain words.",
    examples=["a person in the driveway after 22:00"],
)


class UnderstoodOut(BaseModel):
    text: str = Field(description="The words of the instruction.")
    meaning: str = Field(description="What they became in the rule.")
    similarity: float | None = Field(None, description="When matched by the embedding model.")


class Explanation(BaseModel):
    understood: list[UnderstoodOut] = Field(default_factory=list)
    not_understood: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class ValidateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instruction: str = InstructionText
    space_id: str | None = Field(
        None, max_length=32, description="Zones and time zone come from this space."
    )
    camera_ids: list[str] | None = Field(
        None, max_length=100, description="Only these cameras' zones count (same space)."
    )


class ValidateOut(Explanation):
    status: Literal["valid", "invalid"]
    rule: Rule | None
    reason: str | None = Field(None, description="Why the instruction cannot be a rule.")
    timezone: str = Field(description="The time zone the rule's schedule is read in.")
    zones_known: list[str] = Field(description="Zone names the instruction may refer to.")


class GuardIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    space_id: str = Field(max_length=32)
    name: str = Field(min_length=1, max_length=100)
    instruction: str = InstructionText
    camera_ids: list[str] = Field(default_factory=list, max_length=100)
    rule: Rule | None = Field(
        None, description="Edit the rule directly instead of compiling the instruction."
    )


class GuardUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=100)
    instruction: str | None = Field(None, min_length=1, max_length=MAX_INSTRUCTION_BODY)
    rule: Rule | None = Field(None, description="A hand-edited rule; replaces the compiled one.")


class GuardCamerasIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    camera_ids: list[str] = Field(max_length=100)


class GuardOut(BaseModel):
    id: str
    space_id: str
    name: str
    instruction: str
    rule: Rule | None
    rule_edited: bool
    state: GuardState
    invalid_reason: str
    explanation: Explanation
    camera_ids: list[str]
    created_at: datetime
    updated_at: datetime


class GuardStats(BaseModel):
    catches: int
    catches_24h: int
    catches_7d: int
    by_review: dict[str, int] = Field(description="Catches per review state.")
    false_alarm_rate: float | None = Field(
        description="False alarms over reviewed catches (confirmed + false alarm + resolved)."
    )
    last_catch_at: datetime | None
    tuning: dict[str, float] = Field(
        description="Confidence a catch needs, learnt from reviews, per `label|zone` (`*`: "
        "anywhere); raised above false alarms, never above confirmed catches."
    )


MAX_BACKTEST_DAYS = 31


class BacktestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime = Field(description="Window start (inclusive), with a timezone.")
    end: AwareDatetime = Field(description="Window end (exclusive); at most 31 days after start.")
    camera_ids: list[str] | None = Field(
        None, max_length=100, description="Only these of the guard's cameras; none: all of them."
    )
    rule: Rule | None = Field(
        None, description="Try this rule instead of the guard's own (what-if); nothing is saved."
    )

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > timedelta(days=MAX_BACKTEST_DAYS):
            raise ValueError(f"a backtest covers at most {MAX_BACKTEST_DAYS} days")
        return self


class BacktestCatch(BaseModel):
    camera_id: str
    track_id: str
    label: str
    confidence: float
    zone: str | None
    at: datetime
    dwell_s: float
    count: int = Field(description="Objects satisfying the rule at that instant.")


class BacktestOut(BaseModel):
    guard_id: str
    start: datetime
    end: datetime
    tracks_replayed: int
    truncated: bool = Field(description="True when a camera had more tracks than one run takes.")
    catches: list[BacktestCatch]
