// Guards: plain-words instructions compiled into rules (explained while typing), the cameras
// they watch, backtests over past tracks, pause/resume and their figures.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { Badge, Button, Card, ErrorNote, Loading, PageHeader, Select, TextArea, TextInput, formatTime } from "../components/ui";
import { camerasQuery, guardsQuery, spacesQuery } from "../lib/queries";

type Guard = Schemas["GuardOut"];
type Rule = Schemas["Rule"];

function describeSchedule(rule: Rule): string {
  const schedule = rule.schedule;
  if (!schedule || schedule.kind === "always") return "always";
  if (schedule.kind === "windows") {
    return (schedule.windows ?? []).map((w) => `${w.start}–${w.end}`).join(", ") || "time windows";
  }
  return schedule.kind === "night" ? "at night" : "by day";
}

export function RuleView({ rule }: { rule: Rule }) {
  const rows: [string, string][] = [
    ["Objects", rule.objects.join(", ")],
    ["Zones", rule.zones?.length ? rule.zones.join(", ") : "the whole picture"],
    ["When", describeSchedule(rule)],
    ["Stays at least", `${rule.min_dwell_s ?? 0} s`],
    ["Confidence", `${Math.round((rule.min_confidence ?? 0) * 100)}%`],
    ["Cooldown", `${rule.cooldown_s ?? 0} s`],
    ["Severity", rule.severity ?? "warning"],
    ["Channels", rule.channels?.length ? rule.channels.join(", ") : "your defaults"],
  ];
  if (rule.count) rows.push(["Count", `${rule.count.op} ${rule.count.value}`]);
  if (rule.left_object) rows.push(["Left behind", "yes"]);
  return (
    <dl className="grid grid-cols-[8rem_1fr] gap-x-3 gap-y-1 text-sm" data-testid="compiled-rule">
      {rows.map(([label, value]) => (
        <div key={label} className="contents">
          <dt className="text-slate-400">{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function Explanation({ result }: { result: Schemas["ValidateOut"] | Schemas["Explanation"] }) {
  return (
    <div className="flex flex-col gap-2 text-sm">
      {result.understood?.length ? (
        <ul className="flex flex-col gap-1" aria-label="Understood">
          {result.understood.map((item) => (
            <li key={`${item.text}-${item.meaning}`}>
              <span className="rounded bg-emerald-500/15 px-1 text-emerald-200">“{item.text}”</span> → {item.meaning}
            </li>
          ))}
        </ul>
      ) : null}
      {result.not_understood?.length ? (
        <p className="text-amber-200">Not understood: {result.not_understood.map((word) => `“${word}”`).join(", ")}</p>
      ) : null}
      {result.warnings?.length ? (
        <ul className="list-disc pl-5 text-amber-200" aria-label="Warnings">
          {result.warnings.map((warning) => (
            <li key={warning}>{warning}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

function CameraPicker({ spaceId, value, onChange }: { spaceId: string; value: string[]; onChange: (ids: string[]) => void }) {
  const cameras = useQuery({ ...camerasQuery(spaceId), enabled: Boolean(spaceId) });
  return (
    <fieldset className="flex flex-col gap-1">
      <legend className="mb-1 text-sm font-medium">Cameras to watch</legend>
      {(cameras.data?.items ?? []).map((camera) => (
        <label key={camera.id} className="flex items-center gap-2 text-sm">
          <input
            type="checkbox"
            className="h-4 w-4 accent-sky-500"
            checked={value.includes(camera.id)}
            onChange={(e) => onChange(e.target.checked ? [...value, camera.id] : value.filter((id) => id !== camera.id))}
          />
          {camera.name}
        </label>
      ))}
      {cameras.data?.items.length === 0 ? <p className="text-sm text-slate-400">This space has no cameras yet.</p> : null}
    </fieldset>
  );
}

function useDebounced<T>(value: T, ms: number): T {
  const [current, setCurrent] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setCurrent(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return current;
}

export function GuardEditor() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const spaces = useQuery(spacesQuery);
  const [spaceChoice, setSpace] = useState(params.get("space") ?? "");
  const spaceId = spaceChoice || spaces.data?.items[0]?.id || "";
  const [name, setName] = useState("");
  const [instruction, setInstruction] = useState("");
  const [cameraIds, setCameraIds] = useState<string[]>([]);
  const typed = useDebounced(instruction.trim(), 350);
  const validation = useQuery({
    queryKey: ["guards", "validate", spaceId, typed],
    queryFn: ({ signal }) =>
      unwrap(api.POST("/api/v1/guards/validate", { body: { instruction: typed, space_id: spaceId || null }, signal })),
    enabled: typed.length > 2,
    staleTime: 60_000,
    placeholderData: (previous) => previous,
  });
  const create = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/guards", { body: { space_id: spaceId, name: name || instruction.slice(0, 60), instruction, camera_ids: cameraIds } })),
    onSuccess: (guard) => {
      void queries.invalidateQueries({ queryKey: ["guards"] });
      void navigate(`/guards/${guard.id}`);
    },
  });
  const result = validation.data;
  return (
    <div className="max-w-5xl">
      <PageHeader title="New guard" />
      <div className="grid gap-4 lg:grid-cols-2">
        <Card>
          <form
            className="flex flex-col gap-4"
            onSubmit={(event) => {
              event.preventDefault();
              create.mutate();
            }}
          >
            <Select label="Space" value={spaceId} onChange={(e) => setSpace(e.target.value)}>
              {(spaces.data?.items ?? []).map((space) => (
                <option key={space.id} value={space.id}>
                  {space.name}
                </option>
              ))}
            </Select>
            <TextArea
              label="What should this guard watch for?"
              required
              rows={3}
              value={instruction}
              onChange={(e) => setInstruction(e.target.value)}
              placeholder="Tell me when a person is in the driveway at night"
              hint="Plain words: objects, places (your zones), times, how long."
            />
            <TextInput label="Name (optional)" value={name} onChange={(e) => setName(e.target.value)} />
            <CameraPicker spaceId={spaceId} value={cameraIds} onChange={setCameraIds} />
            <ErrorNote error={create.error} />
            <Button type="submit" busy={create.isPending} disabled={!instruction.trim() || !spaceId}>
              Create guard
            </Button>
          </form>
        </Card>
        <Card>
          <h2 className="mb-2 flex items-center gap-2 text-lg font-semibold">
            What ORIN understood {validation.isFetching ? <span className="text-xs text-slate-400">checking…</span> : null}
          </h2>
          <div aria-live="polite" data-testid="validation">
            {!result ? <p className="text-sm text-slate-400">Start typing an instruction.</p> : null}
            <ErrorNote error={validation.error} />
            {result ? (
              <div className="flex flex-col gap-3">
                <p>
                  <Badge value={result.status === "valid" ? "active" : "invalid"} />{" "}
                  <span className="text-sm">{result.status === "valid" ? "This becomes the rule below." : result.reason}</span>
                </p>
                <Explanation result={result} />
                {result.rule ? <RuleView rule={result.rule} /> : null}
                <p className="text-xs text-slate-400">
                  Times are read in {result.timezone}. Known zones: {result.zones_known.length ? result.zones_known.join(", ") : "none yet"}.
                </p>
              </div>
            ) : null}
          </div>
        </Card>
      </div>
    </div>
  );
}

export function GuardsList() {
  const guards = useQuery(guardsQuery());
  const queries = useQueryClient();
  const toggle = useMutation({
    mutationFn: (guard: Guard) =>
      guard.state === "paused"
        ? unwrap(api.POST("/api/v1/guards/{guard_id}/resume", { params: { path: { guard_id: guard.id } } }))
        : unwrap(api.POST("/api/v1/guards/{guard_id}/pause", { params: { path: { guard_id: guard.id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["guards"] }),
  });
  return (
    <div>
      <PageHeader
        title="Guards"
        actions={
          <Link to="/guards/new" className="rounded-md bg-sky-500 px-4 py-2 text-sm font-medium text-slate-950 hover:bg-sky-400">
            New guard
          </Link>
        }
      />
      {guards.isPending ? <Loading /> : null}
      <ErrorNote error={guards.error ?? toggle.error} />
      <div className="grid gap-3 md:grid-cols-2">
        {(guards.data?.items ?? []).map((guard) => (
          <Card key={guard.id}>
            <div className="flex items-start justify-between gap-2">
              <div className="min-w-0">
                <Link to={`/guards/${guard.id}`} className="font-medium hover:underline">
                  {guard.name}
                </Link>
                <p className="truncate text-sm text-slate-400">{guard.instruction}</p>
              </div>
              <Badge value={guard.state} />
            </div>
            {guard.state !== "invalid" ? (
              <Button tone="secondary" className="mt-3" onClick={() => toggle.mutate(guard)}>
                {guard.state === "paused" ? "Resume" : "Pause"}
              </Button>
            ) : (
              <p className="mt-2 text-sm text-red-300">{guard.invalid_reason}</p>
            )}
          </Card>
        ))}
      </div>
      {guards.data?.items.length === 0 ? <p className="text-slate-400">No guards yet.</p> : null}
    </div>
  );
}

function Backtest({ guard }: { guard: Guard }) {
  const [days, setDays] = useState("7");
  const run = useMutation({
    mutationFn: () => {
      const end = new Date();
      const start = new Date(end.getTime() - Number(days) * 86_400_000);
      return unwrap(
        api.POST("/api/v1/guards/{guard_id}/backtest", {
          params: { path: { guard_id: guard.id } },
          body: { start: start.toISOString(), end: end.toISOString() },
        }),
      );
    },
  });
  return (
    <Card>
      <h2 className="mb-2 text-lg font-semibold">Backtest</h2>
      <p className="mb-3 text-sm text-slate-400">What would this guard have caught? It replays the tracks ORIN kept.</p>
      <div className="flex flex-wrap items-end gap-2">
        <Select label="Window" value={days} onChange={(e) => setDays(e.target.value)}>
          <option value="1">Last day</option>
          <option value="7">Last week</option>
          <option value="30">Last 30 days</option>
        </Select>
        <Button busy={run.isPending} onClick={() => run.mutate()}>
          Run backtest
        </Button>
      </div>
      <ErrorNote error={run.error} />
      {run.data ? (
        <div className="mt-3" data-testid="backtest">
          <p className="text-sm">
            {run.data.catches.length} catch{run.data.catches.length === 1 ? "" : "es"} from {run.data.tracks_replayed} tracks
            {run.data.truncated ? " (stopped early: too many tracks)" : ""}.
          </p>
          <ul className="mt-2 max-h-64 divide-y divide-slate-800 overflow-auto text-sm" tabIndex={0} aria-label="What the backtest caught">
            {run.data.catches.map((item) => (
              <li key={`${item.track_id}-${item.at}`} className="py-1">
                {formatTime(item.at)} · {item.label} {Math.round(item.confidence * 100)}%{item.zone ? ` in ${item.zone}` : ""} · stayed {Math.round(item.dwell_s)} s
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </Card>
  );
}

export function GuardPage() {
  const { guardId = "" } = useParams();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const path = { guard_id: guardId };
  const guard = useQuery({
    queryKey: ["guards", "one", guardId],
    queryFn: () => unwrap(api.GET("/api/v1/guards/{guard_id}", { params: { path } })),
  });
  const stats = useQuery({
    queryKey: ["guards", "stats", guardId],
    queryFn: () => unwrap(api.GET("/api/v1/guards/{guard_id}/stats", { params: { path } })),
  });
  const [cameraIds, setCameraIds] = useState<string[] | null>(null);
  const refresh = () => void queries.invalidateQueries({ queryKey: ["guards"] });
  const setCameras = useMutation({
    mutationFn: (ids: string[]) => unwrap(api.PUT("/api/v1/guards/{guard_id}/cameras", { params: { path }, body: { camera_ids: ids } })),
    onSuccess: () => {
      setCameraIds(null);
      refresh();
    },
  });
  const toggle = useMutation({
    mutationFn: (pause: boolean) =>
      pause
        ? unwrap(api.POST("/api/v1/guards/{guard_id}/pause", { params: { path } }))
        : unwrap(api.POST("/api/v1/guards/{guard_id}/resume", { params: { path } })),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/guards/{guard_id}", { params: { path } })),
    onSuccess: () => {
      refresh();
      void navigate("/guards");
    },
  });
  if (guard.isPending) return <Loading />;
  if (!guard.data) return <ErrorNote error={guard.error} />;
  const data = guard.data;
  const figures = stats.data;
  return (
    <div className="flex flex-col gap-4">
      <PageHeader
        title={data.name}
        actions={
          <>
            <Badge value={data.state} />
            {data.state !== "invalid" ? (
              <Button tone="secondary" busy={toggle.isPending} onClick={() => toggle.mutate(data.state !== "paused")}>
                {data.state === "paused" ? "Resume" : "Pause"}
              </Button>
            ) : null}
            <Button tone="danger" busy={remove.isPending} onClick={() => window.confirm("Delete this guard?") && remove.mutate()}>
              Delete
            </Button>
          </>
        }
      />
      <ErrorNote error={toggle.error ?? remove.error} />
      <div className="grid gap-4 lg:grid-cols-2">
        <Card>
          <p className="mb-3 italic text-slate-200">“{data.instruction}”</p>
          {data.state === "invalid" ? <p className="mb-2 text-sm text-red-300">{data.invalid_reason}</p> : null}
          <Explanation result={data.explanation} />
          {data.rule ? (
            <div className="mt-3">
              <RuleView rule={data.rule} />
            </div>
          ) : null}
        </Card>
        <Card>
          <h2 className="mb-2 text-lg font-semibold">Figures</h2>
          <dl className="grid grid-cols-2 gap-2 sm:grid-cols-4" data-testid="guard-stats">
            {[
              ["Catches", figures?.catches],
              ["Last 24 h", figures?.catches_24h],
              ["Last 7 days", figures?.catches_7d],
              ["False alarms", figures?.false_alarm_rate == null ? "—" : `${Math.round(figures.false_alarm_rate * 100)}%`],
            ].map(([label, value]) => (
              <div key={String(label)} className="rounded-md bg-slate-800/60 p-2">
                <dt className="text-xs text-slate-400">{label}</dt>
                <dd className="text-xl font-semibold">{value ?? "…"}</dd>
              </div>
            ))}
          </dl>
          <p className="mt-2 text-sm text-slate-400">Last catch: {formatTime(figures?.last_catch_at)}</p>
          <div className="mt-4">
            <CameraPicker spaceId={data.space_id} value={cameraIds ?? data.camera_ids} onChange={setCameraIds} />
            {cameraIds ? (
              <Button className="mt-2" busy={setCameras.isPending} onClick={() => setCameras.mutate(cameraIds)}>
                Save cameras
              </Button>
            ) : null}
            <ErrorNote error={setCameras.error} />
          </div>
        </Card>
      </div>
      <Backtest guard={data} />
    </div>
  );
}
