"""Subscription plans and what each allows."""

from __future__ import annotations

from pydantic import BaseModel, Field

from orin.errors import OrinError
from orin.models.user import Plan


class PlanLimits(BaseModel):
    """What a plan allows; enforced by the features that consume them."""

    cameras: int = Field(description="Cameras the account may add.")
    guards: int = Field(description="Guards the account may have.")
    retention_days: int = Field(description="Days recordings and catches are kept at most.")
    spaces: int = Field(description="Spaces the account may own.")


PLAN_LIMITS: dict[Plan, PlanLimits] = {
    Plan.FREE: PlanLimits(cameras=2, guards=5, retention_days=7, spaces=1),
    Plan.PRO: PlanLimits(cameras=10, guards=50, retention_days=30, spaces=5),
    Plan.BUSINESS: PlanLimits(cameras=100, guards=500, retention_days=90, spaces=50),
}


def limits_for(plan: Plan) -> PlanLimits:
    return PLAN_LIMITS[plan]


class PlanLimitReached(OrinError):
    """The account's plan does not allow one more of something (HTTP 402)."""

    status_code = 402
    type_slug = "plan-limit"
    title = "Plan limit reached"

    def __init__(self, resource: str, limit: int, plan: Plan) -> None:
        name = Plan(plan).value
        super().__init__(
            f"the {name} plan allows {limit} {resource}; upgrade the plan or remove one",
            extra={"limit": resource, "max": limit, "plan": name},
        )
