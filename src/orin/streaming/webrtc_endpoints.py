"""`POST /api/v1/cameras/{id}/webrtc`: WebRTC signalling for the live view (offer in, answer out).

One request, no trickle ICE: the client sends its offer once ICE gathering is complete and gets
an answer with the server's candidates. `GET /cameras/{id}/live` keeps giving the signed HLS URL,
the fallback whenever this answers 422 (no H.264 in the offer, a camera WebRTC cannot pass
through) or 503 (viewer limit, camera unreachable).
"""

from __future__ import annotations

from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from orin.access import Capability, camera_for
from orin.auth.deps import CurrentUser
from orin.cameras.credentials import full_url
from orin.deps import EnvelopeDep, SessionDep
from orin.errors import Conflict
from orin.problems import problem_responses
from orin.security.ratelimit import ApiRateLimit
from orin.streaming.webrtc import WebRtcHub, WebRtcUnsupported, default_hub

router = APIRouter(tags=["live"], responses=problem_responses(429))

MAX_SDP_CHARS = 64_000


class WebRtcOffer(BaseModel):
    sdp: str = Field(
        min_length=1,
        max_length=MAX_SDP_CHARS,
        description="The browser's SDP offer, sent after ICE gathering completed.",
    )
    type: Literal["offer"]


class WebRtcAnswer(BaseModel):
    sdp: str = Field(description="The server's SDP answer, with its ICE candidates.")
    type: Literal["answer"] = "answer"


def get_webrtc_hub(request: Request) -> WebRtcHub:
    """The hub on ``request.state.webrtc_hub`` when the lifespan provides one, else this
    process's default hub."""
    hub = getattr(request.state, "webrtc_hub", None)
    return cast(WebRtcHub, hub) if hub is not None else default_hub()


WebRtcHubDep = Annotated[WebRtcHub, Depends(get_webrtc_hub)]


@router.post(
    "/api/v1/cameras/{camera_id}/webrtc",
    operation_id="cameras_webrtc",
    tags=["cameras"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(401, 404, 409, 422, 503),
)
async def webrtc_offer(
    camera_id: str,
    offer: WebRtcOffer,
    user: CurrentUser,
    db: SessionDep,
    envelope: EnvelopeDep,
    hub: WebRtcHubDep,
) -> WebRtcAnswer:
    """Live view over WebRTC: the camera's H.264 passed through (422/503 mean: use HLS)."""
    access = await camera_for(db, user.id, camera_id, Capability.VIEW)
    camera = access.camera
    if not camera.enabled:
        raise Conflict("the camera is disabled")
    url = full_url(envelope, camera, "main")
    # Opening the camera may take seconds: end the transaction instead of holding it meanwhile.
    await db.commit()
    if url is None or not url.lower().startswith(("rtsp://", "rtsps://")):
        raise WebRtcUnsupported("WebRTC needs an RTSP camera")
    answer = await hub.offer(camera_id, url, offer.sdp, offer.type)
    return WebRtcAnswer(sdp=answer.sdp)
