// Cameras: the live grid, the add-camera wizard (the stream is tested before saving) and one
// camera's page (live view, recordings, snapshot with zones and privacy masks, sharing).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { ApiError, api, sameOrigin, unwrap, type Schemas } from "../api/client";
import { HlsPlayer, type Source } from "../components/HlsPlayer";
import { LivePlayer } from "../components/LivePlayer";
import { PolygonEditor } from "../components/PolygonEditor";
import { useSnapshot } from "../components/Snapshot";
import { Badge, Button, Card, ErrorNote, Loading, PageHeader, Select, TextInput, formatTime } from "../components/ui";
import { cameraQuery, camerasQuery, spacesQuery } from "../lib/queries";

type Camera = Awaited<ReturnType<NonNullable<ReturnType<typeof cameraQuery>["queryFn"]>>>;
type Point = [number, number];

async function liveSource(cameraId: string): Promise<Source> {
  const live = await unwrap(
    api.GET("/api/v1/cameras/{camera_id}/live", { params: { path: { camera_id: cameraId } } }),
  );
  return { url: sameOrigin(live.hls_url), expiresAt: Date.parse(live.expires_at) };
}

/** Live video once the camera is online; until then its state (no playlist to ask for yet). */
function LiveView({ camera, controls = false }: { camera: Camera; controls?: boolean }) {
  if (camera.status === "online") {
    return (
      <LivePlayer
        cameraId={camera.id}
        hls={() => liveSource(camera.id)}
        label={`Live view of ${camera.name}`}
        controls={controls}
      />
    );
  }
  return (
    <div className="flex aspect-video w-full flex-col items-center justify-center gap-1 rounded-lg bg-slate-800 p-4 text-center text-sm text-slate-300" role="img" aria-label={`${camera.name} is ${camera.status}`}>
      <span>{camera.status === "connecting" || camera.status === "unknown" ? "Connecting to the camera…" : `Camera ${camera.status}`}</span>
      {camera.status_reason ? <span className="text-xs text-slate-400">{camera.status_reason}</span> : null}
    </div>
  );
}

/** Poll while a camera is on its way up (the WebSocket also tells, when it runs). */
const settling = (cameras: Camera[] | undefined) =>
  cameras?.some((camera) => camera.enabled && camera.status !== "online") ? 4000 : false;

function CameraTile({ camera }: { camera: Camera }) {
  return (
    <Card className="p-2">
      <LiveView camera={camera} />
      <div className="flex items-center justify-between gap-2 px-1 pt-2">
        <Link to={`/cameras/${camera.id}`} className="truncate font-medium hover:underline">
          {camera.name}
        </Link>
        <Badge value={camera.status} />
      </div>
      {camera.status !== "online" && camera.status_reason ? (
        <p className="px-1 text-xs text-slate-400">{camera.status_reason}</p>
      ) : null}
    </Card>
  );
}

export function CamerasGrid() {
  const [params, setParams] = useSearchParams();
  const spaceId = params.get("space") ?? undefined;
  const spaces = useQuery(spacesQuery);
  const cameras = useQuery({ ...camerasQuery(spaceId), refetchInterval: (query) => settling(query.state.data?.items) });
  return (
    <div>
      <PageHeader
        title="Cameras"
        actions={
          <Link to={`/cameras/new${spaceId ? `?space=${spaceId}` : ""}`} className="rounded-md bg-sky-500 px-4 py-2 text-sm font-medium text-slate-950 hover:bg-sky-400">
            Add camera
          </Link>
        }
      />
      <div className="mb-4 max-w-xs">
        <Select label="Space" value={spaceId ?? ""} onChange={(e) => setParams(e.target.value ? { space: e.target.value } : {})}>
          <option value="">All spaces</option>
          {(spaces.data?.items ?? []).map((space) => (
            <option key={space.id} value={space.id}>
              {space.name}
            </option>
          ))}
        </Select>
      </div>
      {cameras.isPending ? <Loading /> : null}
      <ErrorNote error={cameras.error} />
      <div className="grid gap-4 sm:grid-cols-2 xl:grid-cols-3" data-testid="camera-grid">
        {(cameras.data?.items ?? []).map((camera) => (
          <CameraTile key={camera.id} camera={camera} />
        ))}
      </div>
      {cameras.data?.items.length === 0 ? <p className="text-slate-400">No cameras yet.</p> : null}
    </div>
  );
}

/** The API's refusal of one field (it names the field in `field`), as words for that field. */
function fieldError(error: unknown, field: string): string | null {
  if (!(error instanceof ApiError) || error.problem.field !== field) return null;
  return error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message;
}

function ProbeResult({ probe }: { probe: Schemas["ProbeOut"] }) {
  const main = probe.main;
  return (
    <div role="status" data-testid="probe-result" data-ok={probe.ok} className={`rounded-md border p-3 text-sm ${probe.ok ? "border-emerald-500/60 bg-emerald-950/50" : "border-red-500/60 bg-red-950/50"}`}>
      {probe.ok ? (
        <p>
          Stream works: {main.codec?.toUpperCase()} {main.width}×{main.height}
          {main.fps ? ` at ${Math.round(main.fps)} fps` : ""} (answered in {main.elapsed_ms} ms).
        </p>
      ) : (
        <p>
          The stream did not work{main.problem ? ` (${main.problem.replace(/_/g, " ")})` : ""}: {main.reason ?? "no answer"}.
        </p>
      )}
    </div>
  );
}

export function AddCamera() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const spaces = useQuery(spacesQuery);
  const [form, setForm] = useState({
    space_id: params.get("space") ?? "",
    name: "",
    main_url: "",
    username: "",
    password: "",
  });
  const spaceId = form.space_id || spaces.data?.items[0]?.id || "";
  const credentials = {
    ...(form.username ? { username: form.username } : {}),
    ...(form.password ? { password: form.password } : {}),
  };
  const probe = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/cameras/probe", { body: { space_id: spaceId, main_url: form.main_url, ...credentials } })),
  });
  const save = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/cameras", { body: { space_id: spaceId, name: form.name, main_url: form.main_url, ...credentials } })),
    onSuccess: (camera) => {
      void queries.invalidateQueries({ queryKey: ["cameras"] });
      void navigate(`/cameras/${camera.id}`);
    },
  });
  const set = (key: keyof typeof form) => (event: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => {
    setForm({ ...form, [key]: event.target.value });
    if (key !== "name") probe.reset();
  };
  const tested = probe.data?.ok === true;
  const urlError = fieldError(probe.error ?? save.error, "main_url");
  return (
    <div className="max-w-2xl">
      <PageHeader title="Add a camera" />
      <Card>
        <ol className="mb-4 flex gap-4 text-sm" aria-label="Steps">
          <li className={tested ? "text-slate-400" : "font-semibold text-sky-300"} aria-current={tested ? undefined : "step"}>1. Test the stream</li>
          <li className={tested ? "font-semibold text-sky-300" : "text-slate-400"} aria-current={tested ? "step" : undefined}>2. Save</li>
        </ol>
        <form
          className="flex flex-col gap-4"
          onSubmit={(event) => {
            event.preventDefault();
            if (tested) save.mutate();
            else probe.mutate();
          }}
        >
          <Select label="Space" required value={spaceId} onChange={set("space_id")}>
            {(spaces.data?.items ?? []).map((space) => (
              <option key={space.id} value={space.id}>
                {space.name}
              </option>
            ))}
          </Select>
          <TextInput label="Camera name" required maxLength={100} value={form.name} onChange={set("name")} placeholder="Front door" />
          <TextInput
            label="Stream URL"
            required
            value={form.main_url}
            onChange={set("main_url")}
            placeholder="rtsp://192.168.1.20:554/stream1"
            hint="The camera's RTSP address (main stream). Find it in the camera's manual or app."
            error={urlError}
            autoComplete="off"
            spellCheck={false}
          />
          <div className="grid gap-4 sm:grid-cols-2">
            <TextInput label="User name (optional)" autoComplete="off" value={form.username} onChange={set("username")} />
            <TextInput label="Password (optional)" type="password" autoComplete="new-password" value={form.password} onChange={set("password")} />
          </div>
          {probe.data ? <ProbeResult probe={probe.data} /> : null}
          <ErrorNote error={urlError ? null : (probe.error ?? save.error)} />
          <div className="flex flex-wrap gap-2">
            <Button type={tested ? "button" : "submit"} tone={tested ? "secondary" : "primary"} busy={probe.isPending} onClick={tested ? () => probe.mutate() : undefined}>
              {probe.isPending ? "Testing…" : "Test stream"}
            </Button>
            <Button type={tested ? "submit" : "button"} disabled={!tested} busy={save.isPending}>
              Save camera
            </Button>
          </div>
        </form>
      </Card>
    </div>
  );
}

const DAY_MS = 86_400_000;

function Recordings({ camera }: { camera: Camera }) {
  const [until] = useState(() => new Date());
  const since = useMemo(() => new Date(until.getTime() - DAY_MS), [until]);
  const path = { camera_id: camera.id };
  const recordings = useQuery({
    queryKey: ["cameras", "recordings", camera.id],
    queryFn: () =>
      unwrap(api.GET("/api/v1/cameras/{camera_id}/recordings", { params: { path, query: { since: since.toISOString(), until: until.toISOString(), limit: 1 } } })),
  });
  const [range, setRange] = useState<{ since: string; until: string } | null>(null);
  const left = (iso: string) => ((Date.parse(iso) - since.getTime()) / DAY_MS) * 100;
  return (
    <Card>
      <h2 className="mb-2 text-lg font-semibold">Recordings (last 24 hours)</h2>
      <ErrorNote error={recordings.error} />
      <p className="mb-2 text-sm text-slate-400">Recording mode: {recordings.data?.recording_mode ?? camera.recording_mode}. Choose a stretch to play it.</p>
      <div className="relative h-8 rounded bg-slate-800" role="group" aria-label="Recorded stretches">
        {(recordings.data?.spans ?? []).map((span) => (
          <button
            key={span.started_at}
            type="button"
            title={`${formatTime(span.started_at)} – ${formatTime(span.ended_at)}`}
            aria-label={`Play from ${formatTime(span.started_at)} to ${formatTime(span.ended_at)}`}
            onClick={() => setRange({ since: span.started_at, until: span.ended_at })}
            className="absolute top-0 h-8 min-w-1 rounded bg-sky-500/80 hover:bg-sky-400 focus-visible:outline focus-visible:outline-2 focus-visible:outline-white"
            style={{ left: `${Math.max(0, left(span.started_at))}%`, width: `${Math.max(0.4, left(span.ended_at) - left(span.started_at))}%` }}
          />
        ))}
      </div>
      <div className="mt-1 flex justify-between text-xs text-slate-400">
        <span>{formatTime(since.toISOString())}</span>
        <span>now</span>
      </div>
      {recordings.data?.spans.length === 0 ? <p className="mt-2 text-sm text-slate-400">Nothing recorded in this window.</p> : null}
      {range ? (
        <div className="mt-3">
          <HlsPlayer
            key={range.since}
            live={false}
            controls
            label={`Recording from ${formatTime(range.since)}`}
            load={async () => {
              const playback = await unwrap(api.GET("/api/v1/cameras/{camera_id}/recordings/playback", { params: { path, query: range } }));
              return { url: sameOrigin(playback.playlist_url) };
            }}
          />
        </div>
      ) : null}
    </Card>
  );
}

function Shares({ camera }: { camera: Camera }) {
  const queries = useQueryClient();
  const path = { camera_id: camera.id };
  const key = ["cameras", "shares", camera.id];
  const shares = useQuery({ queryKey: key, queryFn: () => unwrap(api.GET("/api/v1/cameras/{camera_id}/shares", { params: { path } })) });
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Schemas["ShareRole"]>("viewer");
  const [expires, setExpires] = useState("");
  const share = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/cameras/{camera_id}/shares", { params: { path }, body: { email, role, expires_at: expires ? new Date(expires).toISOString() : null } })),
    onSuccess: () => {
      setEmail("");
      void queries.invalidateQueries({ queryKey: key });
    },
  });
  const unshare = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/v1/cameras/{camera_id}/shares/{share_id}", { params: { path: { ...path, share_id: id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: key }),
  });
  return (
    <Card>
      <h2 className="mb-2 text-lg font-semibold">Sharing</h2>
      <ul className="divide-y divide-slate-800">
        {(shares.data ?? []).map((item) => (
          <li key={item.id} className="flex items-center justify-between gap-2 py-2 text-sm">
            <span>
              {item.email} · {item.role}
              {item.expires_at ? ` · until ${formatTime(item.expires_at)}` : ""}
            </span>
            <Button tone="ghost" onClick={() => unshare.mutate(item.id)}>
              Stop sharing
            </Button>
          </li>
        ))}
        {shares.data?.length === 0 ? <li className="py-2 text-sm text-slate-400">Not shared with anyone.</li> : null}
      </ul>
      <form
        className="mt-3 grid gap-3 sm:grid-cols-2"
        onSubmit={(event) => {
          event.preventDefault();
          share.mutate();
        }}
      >
        <TextInput label="Share with (email)" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <Select label="Role" value={role} onChange={(e) => setRole(e.target.value as Schemas["ShareRole"])}>
          <option value="viewer">viewer</option>
          <option value="manager">manager</option>
        </Select>
        <TextInput label="Until (optional)" type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
        <div className="flex items-end">
          <Button type="submit" busy={share.isPending}>
            Share camera
          </Button>
        </div>
        <div className="sm:col-span-2">
          <ErrorNote error={shares.error ?? share.error ?? unshare.error} />
        </div>
      </form>
    </Card>
  );
}

function ZonesAndMasks({ camera }: { camera: Camera }) {
  const snapshot = useSnapshot(camera.id, camera.status === "online");
  const queries = useQueryClient();
  const path = { camera_id: camera.id };
  const saved = () => void queries.invalidateQueries({ queryKey: ["cameras"] });
  const saveZones = useMutation({
    mutationFn: (zones: Schemas["Zone"][]) => unwrap(api.PUT("/api/v1/cameras/{camera_id}/zones", { params: { path }, body: { zones } })),
    onSuccess: saved,
  });
  const saveMasks = useMutation({
    mutationFn: (masks: Schemas["PrivacyMask"][]) =>
      unwrap(api.PUT("/api/v1/cameras/{camera_id}/masks", { params: { path }, body: { privacy_masks: masks } })),
    onSuccess: saved,
  });
  const editable = camera.role === "owner" || camera.role === "manager";
  return (
    <Card>
      <h2 className="mb-2 text-lg font-semibold">Snapshot, zones and privacy masks</h2>
      {snapshot.isLoading ? <Loading /> : null}
      {snapshot.error ? <p className="text-sm text-slate-400">No snapshot yet: the camera has not sent a picture.</p> : null}
      <PolygonEditor
        image={snapshot.data ?? null}
        zones={camera.zones.map((zone) => ({ name: zone.name, polygon: zone.polygon as number[][], kind: "zone" as const }))}
        masks={camera.privacy_masks.map((mask, index) => ({ name: mask.name ?? `Mask ${index + 1}`, polygon: mask.polygon as number[][], kind: "mask" as const }))}
        readOnly={!editable}
        busy={saveZones.isPending || saveMasks.isPending}
        onSave={(shapes) => {
          saveZones.mutate(shapes.filter((shape) => shape.kind === "zone").map(({ name, polygon }) => ({ name, polygon: polygon as Point[] })));
          saveMasks.mutate(shapes.filter((shape) => shape.kind === "mask").map(({ name, polygon }) => ({ name, polygon: polygon as Point[] })));
        }}
      />
      <ErrorNote error={saveZones.error ?? saveMasks.error} />
      {saveZones.isSuccess && saveMasks.isSuccess ? <p role="status" className="text-sm text-emerald-300">Saved.</p> : null}
    </Card>
  );
}

export function CameraPage() {
  const { cameraId = "" } = useParams();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const camera = useQuery({
    ...cameraQuery(cameraId),
    refetchInterval: (query) => settling(query.state.data ? [query.state.data] : undefined),
  });
  const test = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/cameras/{camera_id}/test", { params: { path: { camera_id: cameraId } } })),
  });
  const toggle = useMutation({
    mutationFn: (enabled: boolean) =>
      unwrap(api.PATCH("/api/v1/cameras/{camera_id}", { params: { path: { camera_id: cameraId } }, body: { enabled } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["cameras"] }),
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/cameras/{camera_id}", { params: { path: { camera_id: cameraId } } })),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["cameras"] });
      void navigate("/cameras");
    },
  });
  if (camera.isPending) return <Loading />;
  if (!camera.data) return <ErrorNote error={camera.error} />;
  const data = camera.data;
  const manage = data.role === "owner" || data.role === "manager";
  return (
    <div className="flex flex-col gap-4">
      <PageHeader
        title={data.name}
        actions={
          <>
            <Badge value={data.status} />
            <Button tone="secondary" busy={test.isPending} onClick={() => test.mutate()}>
              Test stream
            </Button>
            {manage ? (
              <Button tone="secondary" busy={toggle.isPending} onClick={() => toggle.mutate(!data.enabled)}>
                {data.enabled ? "Disable" : "Enable"}
              </Button>
            ) : null}
            {manage ? (
              <Button
                tone="danger"
                busy={remove.isPending}
                onClick={() => {
                  if (window.confirm(`Delete ${data.name} and its recordings?`)) remove.mutate();
                }}
              >
                Delete
              </Button>
            ) : null}
          </>
        }
      />
      {test.data ? <ProbeResult probe={test.data} /> : null}
      <ErrorNote error={test.error ?? toggle.error ?? remove.error} />
      <div className="grid gap-4 xl:grid-cols-2">
        <div className="flex flex-col gap-2">
          <LiveView camera={data} controls />
        </div>
        <ZonesAndMasks camera={data} />
      </div>
      <Recordings camera={data} />
      {manage ? <Shares camera={data} /> : null}
    </div>
  );
}
