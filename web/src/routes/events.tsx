// Events: a filtered, searchable timeline (newest first) with thumbnails, and one event's
// snapshot, clip and review. New catches arrive over the WebSocket (lib/realtime.tsx).
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, sameOrigin, unwrap, type Schemas } from "../api/client";
import { Badge, Button, Card, ErrorNote, Loading, PageHeader, Select, TextArea, TextInput, formatTime } from "../components/ui";
import { camerasQuery, guardsQuery, spacesQuery } from "../lib/queries";

type Event = Schemas["EventOut"];
type ReviewState = Schemas["ReviewState"];

const MOVES: Record<ReviewState, ReviewState[]> = {
  new: ["confirmed", "false_alarm", "resolved"],
  seen: ["confirmed", "false_alarm", "resolved"],
  confirmed: ["resolved"],
  false_alarm: ["resolved"],
  resolved: [],
};
const MOVE_LABELS: Record<string, string> = { confirmed: "Confirm", false_alarm: "False alarm", resolved: "Resolve" };

const detailQuery = (eventId: string) => ({
  queryKey: ["events", "one", eventId],
  queryFn: () => unwrap(api.GET("/api/v1/events/{event_id}", { params: { path: { event_id: eventId } } })),
  // Media URLs are signed for a few minutes: refetch well before they expire.
  staleTime: 5 * 60_000,
});

function Thumbnail({ event }: { event: Event }) {
  const detail = useQuery({ ...detailQuery(event.id), enabled: event.has_thumbnail || event.has_snapshot });
  const url = detail.data?.thumbnail_url ?? detail.data?.snapshot_url;
  return url ? (
    <img src={sameOrigin(url)} alt="" loading="lazy" className="h-16 w-28 shrink-0 rounded object-cover" />
  ) : (
    <div aria-hidden="true" className="flex h-16 w-28 shrink-0 items-center justify-center rounded bg-slate-800 text-xs text-slate-400">
      {event.kind === "catch" ? "no picture" : event.kind.replace("_", " ")}
    </div>
  );
}

/** The local day of an ISO time (moved by ``days``), as a date input holds it: YYYY-MM-DD. */
function localDay(iso: string | null, days = 0): string {
  if (!iso) return "";
  const date = new Date(iso);
  date.setDate(date.getDate() + days);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
}

/** Local midnight starting a date input's day (moved by ``days``), as ISO; "" for no day. */
function dayStart(day: string, days = 0): string {
  if (!day) return "";
  const date = new Date(`${day}T00:00`);
  date.setDate(date.getDate() + days);
  return date.toISOString();
}

function Filters() {
  const [params, setParams] = useSearchParams();
  const spaces = useQuery(spacesQuery);
  const cameras = useQuery(camerasQuery(params.get("space_id") ?? undefined));
  const guards = useQuery(guardsQuery(params.get("space_id") ?? undefined));
  const [text, setText] = useState(params.get("q") ?? "");
  // Typed here and put in the address a moment after the last key (a filter per keystroke
  // would re-render the field with the address's older value and drop letters).
  const [label, setLabel] = useState(params.get("label") ?? "");
  useEffect(() => {
    const wanted = label.trim();
    const timer = window.setTimeout(() => {
      if ((new URLSearchParams(window.location.search).get("label") ?? "") === wanted) return;
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          if (wanted) next.set("label", wanted);
          else next.delete("label");
          return next;
        },
        { replace: true },
      );
    }, 300);
    return () => window.clearTimeout(timer);
  }, [label, setParams]);
  const update = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  return (
    <form
      role="search"
      className="mb-4 grid gap-3 sm:grid-cols-2 lg:grid-cols-4"
      onSubmit={(event) => {
        event.preventDefault();
        update("q", text.trim());
      }}
    >
      <div className="flex items-end gap-2 sm:col-span-2">
        <div className="flex-1">
          <TextInput label="Search" type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="a person with a red bag" />
        </div>
        <Button type="submit" tone="secondary">
          Search
        </Button>
      </div>
      <Select label="Space" value={params.get("space_id") ?? ""} onChange={(e) => update("space_id", e.target.value)}>
        <option value="">All</option>
        {(spaces.data?.items ?? []).map((space) => (
          <option key={space.id} value={space.id}>
            {space.name}
          </option>
        ))}
      </Select>
      <Select label="Camera" value={params.get("camera_id") ?? ""} onChange={(e) => update("camera_id", e.target.value)}>
        <option value="">All</option>
        {(cameras.data?.items ?? []).map((camera) => (
          <option key={camera.id} value={camera.id}>
            {camera.name}
          </option>
        ))}
      </Select>
      <Select label="Guard" value={params.get("guard_id") ?? ""} onChange={(e) => update("guard_id", e.target.value)}>
        <option value="">All</option>
        {(guards.data?.items ?? []).map((guard) => (
          <option key={guard.id} value={guard.id}>
            {guard.name}
          </option>
        ))}
      </Select>
      <Select label="Kind" value={params.get("kind") ?? ""} onChange={(e) => update("kind", e.target.value)}>
        <option value="">All</option>
        <option value="catch">Catches</option>
        <option value="camera_offline">Camera offline</option>
        <option value="camera_online">Camera online</option>
        <option value="motion">Motion</option>
      </Select>
      <Select label="Review" value={params.get("review_state") ?? ""} onChange={(e) => update("review_state", e.target.value)}>
        <option value="">Any</option>
        {Object.keys(MOVES).map((state) => (
          <option key={state} value={state}>
            {state.replace("_", " ")}
          </option>
        ))}
      </Select>
      <TextInput label="Label" value={label} onChange={(e) => setLabel(e.target.value)} placeholder="person" />
      <TextInput label="From" type="date" value={localDay(params.get("since"))} onChange={(e) => update("since", dayStart(e.target.value))} />
      <TextInput label="To" type="date" value={localDay(params.get("until"), -1)} onChange={(e) => update("until", dayStart(e.target.value, 1))} />
    </form>
  );
}

function Detail({ eventId }: { eventId: string }) {
  const queries = useQueryClient();
  const navigate = useNavigate();
  const detail = useQuery(detailQuery(eventId));
  const [notes, setNotes] = useState<string | null>(null);
  const review = useMutation({
    mutationFn: (body: Schemas["EventReview"]) =>
      unwrap(api.PATCH("/api/v1/events/{event_id}", { params: { path: { event_id: eventId } }, body })),
    onSuccess: (event) => {
      queries.setQueryData(["events", "one", eventId], event);
      setNotes(null);
      void queries.invalidateQueries({ queryKey: ["events", "list"] });
    },
  });
  useEffect(() => setNotes(null), [eventId]);
  if (detail.isPending) return <Loading />;
  if (!detail.data) return <ErrorNote error={detail.error} />;
  const event = detail.data;
  const moves = event.review_state ? MOVES[event.review_state] : [];
  return (
    <Card className="flex flex-col gap-3" >
      <div className="flex items-center justify-between gap-2" data-testid="event-detail">
        <h2 className="text-lg font-semibold">
          {event.label ?? event.kind.replace("_", " ")}
          {event.zone ? ` in ${event.zone}` : ""}
        </h2>
        <Button tone="ghost" onClick={() => void navigate({ pathname: "/events", search: window.location.search })} aria-label="Close details">
          ×
        </Button>
      </div>
      <p className="text-sm text-slate-400">
        {formatTime(event.started_at)}
        {event.confidence != null ? ` · ${Math.round(event.confidence * 100)}% sure` : ""}
      </p>
      {event.clip_url ? (
        <video src={sameOrigin(event.clip_url)} controls playsInline muted className="w-full rounded bg-black" aria-label="Clip of the event" />
      ) : event.snapshot_url ? (
        <img src={sameOrigin(event.snapshot_url)} alt={`Snapshot: ${event.label ?? event.kind}`} className="w-full rounded" />
      ) : (
        <p className="text-sm text-slate-400">{event.has_clip ? "The clip is being prepared." : "No picture for this event."}</p>
      )}
      {event.review_state ? (
        <div className="flex flex-wrap items-center gap-2" data-testid="review-state" data-state={event.review_state}>
          <Badge value={event.review_state} />
          {moves.map((move) => (
            <Button key={move} tone={move === "false_alarm" ? "secondary" : "primary"} busy={review.isPending && review.variables?.review_state === move} onClick={() => review.mutate({ review_state: move })}>
              {MOVE_LABELS[move]}
            </Button>
          ))}
        </div>
      ) : null}
      <form
        className="flex flex-col gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          review.mutate({ notes: notes ?? event.notes });
        }}
      >
        <TextArea label="Notes" rows={3} maxLength={2000} value={notes ?? event.notes} onChange={(e) => setNotes(e.target.value)} />
        <div>
          <Button type="submit" tone="secondary" disabled={notes === null || notes === event.notes} busy={review.isPending && review.variables?.notes !== undefined}>
            Save notes
          </Button>
        </div>
      </form>
      <ErrorNote error={review.error} />
    </Card>
  );
}

export function EventsPage() {
  const { eventId } = useParams();
  const [params] = useSearchParams();
  const filters = Object.fromEntries(
    ["space_id", "camera_id", "guard_id", "label", "kind", "review_state", "since", "until", "q"]
      .map((key) => [key, params.get(key)?.trim()])
      .filter(([, value]) => value),
  ) as Record<string, string>;
  const events = useInfiniteQuery({
    queryKey: ["events", "list", filters],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/v1/events", {
          params: { query: { ...filters, limit: 30, ...(pageParam ? { cursor: pageParam } : {}) } as never },
        }),
      ),
    getNextPageParam: (page) => page.next_cursor,
  });
  const items = events.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <div>
      <PageHeader title="Events" />
      <Filters />
      <div className={`grid gap-4 ${eventId ? "lg:grid-cols-[1fr_28rem]" : ""}`}>
        <div className={eventId ? "hidden lg:block" : ""}>
          {events.isPending ? <Loading /> : null}
          <ErrorNote error={events.error} />
          <ol className="flex flex-col gap-2" aria-label="Events, newest first" data-testid="events-list">
            {items.map((event) => (
              <li key={event.id}>
                <Link
                  to={{ pathname: `/events/${event.id}`, search: params.toString() }}
                  aria-current={event.id === eventId ? "true" : undefined}
                  className={`flex items-center gap-3 rounded-lg border p-2 hover:bg-slate-800/60 ${event.id === eventId ? "border-sky-500 bg-slate-800/60" : "border-slate-800 bg-slate-900"}`}
                  data-testid="event-row"
                  data-kind={event.kind}
                >
                  <Thumbnail event={event} />
                  <div className="min-w-0 flex-1">
                    <p className="truncate font-medium">
                      {event.label ?? event.kind.replace("_", " ")}
                      {event.zone ? <span className="text-slate-400"> in {event.zone}</span> : null}
                    </p>
                    <p className="text-xs text-slate-400">
                      <time dateTime={event.started_at}>{formatTime(event.started_at)}</time>
                      {event.score != null ? ` · match ${Math.round(event.score * 100)}%` : ""}
                    </p>
                  </div>
                  {event.review_state ? <Badge value={event.review_state} /> : null}
                </Link>
              </li>
            ))}
          </ol>
          {items.length === 0 && !events.isPending ? <p className="text-slate-400">No events match.</p> : null}
          {events.hasNextPage ? (
            <Button tone="secondary" className="mt-3" busy={events.isFetchingNextPage} onClick={() => void events.fetchNextPage()}>
              Older events
            </Button>
          ) : null}
        </div>
        {eventId ? <Detail eventId={eventId} /> : null}
      </div>
    </div>
  );
}
