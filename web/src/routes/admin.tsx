// Admin: platform analytics (charts), system health, users and the audit log.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Schemas } from "../api/client";
import { BarChart } from "../components/BarChart";
import { Badge, Button, Card, ErrorNote, Loading, PageHeader, Select, TextInput, formatTime } from "../components/ui";
import { useAuth } from "../lib/auth";

const clock = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });

function Figure({ label, value }: { label: string; value: string | number }) {
  return (
    <div className="rounded-md bg-slate-800/60 p-3">
      <dt className="text-xs text-slate-400">{label}</dt>
      <dd className="text-2xl font-semibold">{value}</dd>
    </div>
  );
}

function Analytics() {
  const [window, setWindow] = useState("24h");
  const analytics = useQuery({
    queryKey: ["admin", "analytics", window],
    queryFn: () => unwrap(api.GET("/api/v1/admin/analytics", { params: { query: { window } } })),
    refetchInterval: 30_000,
  });
  const data = analytics.data;
  return (
    <Card>
      <div className="mb-3 flex flex-wrap items-end justify-between gap-3">
        <h2 className="text-lg font-semibold">Analytics</h2>
        <div className="w-40">
          <Select label="Window" value={window} onChange={(e) => setWindow(e.target.value)}>
            <option value="1h">Last hour</option>
            <option value="24h">Last 24 hours</option>
            <option value="7d">Last 7 days</option>
            <option value="30d">Last 30 days</option>
          </Select>
        </div>
      </div>
      <ErrorNote error={analytics.error} />
      {!data ? <Loading /> : (
        <div className="flex flex-col gap-4" data-testid="analytics">
          <dl className="grid grid-cols-2 gap-2 md:grid-cols-4">
            <Figure label="Users (active)" value={`${data.users.active}/${data.users.total}`} />
            <Figure label="Cameras online" value={`${data.cameras.online}/${data.cameras.enabled}`} />
            <Figure label="Guards active" value={`${data.guards.active}/${data.guards.total}`} />
            <Figure label="False alarms" value={data.catches.false_alarm_rate == null ? "—" : `${Math.round(data.catches.false_alarm_rate * 100)}%`} />
          </dl>
          <div className="grid gap-4 lg:grid-cols-2">
            <BarChart title={`Catches per minute (last hour, ${data.catches.per_minute.total})`} bars={data.catches.per_minute.buckets.map((b) => ({ label: clock(b.start), value: b.count }))} />
            <BarChart title={`Catches over the window (${data.catches.over_window.total})`} bars={data.catches.over_window.buckets.map((b) => ({ label: formatTime(b.start), value: b.count }))} tone="fill-amber-400" />
            <BarChart
              title="Cameras by status"
              bars={Object.entries(data.cameras.by_status).map(([label, value]) => ({ label, value: Number(value) }))}
              tone="fill-emerald-400"
            />
            <div className="flex flex-col gap-1">
              <p className="text-sm font-medium text-slate-300">Notification outcomes</p>
              <table className="w-full text-sm">
                <thead>
                  <tr className="text-left text-slate-400"><th scope="col">Channel</th><th scope="col">Total</th><th scope="col">By status</th></tr>
                </thead>
                <tbody>
                  {data.notifications.map((row) => (
                    <tr key={row.channel} className="border-t border-slate-800">
                      <td className="py-1">{row.channel}</td>
                      <td>{row.total}</td>
                      <td>
                        <div className="flex h-3 w-full overflow-hidden rounded bg-slate-800" aria-hidden="true">
                          {Object.entries(row.by_status).map(([status, count]) => (
                            <span key={status} title={`${status}: ${count}`} className={status === "sent" ? "bg-emerald-400" : status === "failed" || status === "dead" ? "bg-red-400" : "bg-slate-400"} style={{ width: `${(Number(count) / Math.max(1, row.total)) * 100}%` }} />
                          ))}
                        </div>
                        <span className="text-xs text-slate-400">{Object.entries(row.by_status).map(([s, c]) => `${s} ${c}`).join(" · ")}</span>
                      </td>
                    </tr>
                  ))}
                  {data.notifications.length === 0 ? <tr><td colSpan={3} className="py-1 text-slate-400">No notifications in the window.</td></tr> : null}
                </tbody>
              </table>
            </div>
          </div>
        </div>
      )}
    </Card>
  );
}

function System() {
  const system = useQuery({ queryKey: ["admin", "system"], queryFn: () => unwrap(api.GET("/api/v1/admin/system")), refetchInterval: 15_000 });
  const data = system.data;
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">System health</h2>
      <ErrorNote error={system.error} />
      {!data ? <Loading /> : (
        <div className="grid gap-4 lg:grid-cols-2" data-testid="system">
          <table className="w-full text-sm">
            <caption className="mb-1 text-left text-slate-400">Processes</caption>
            <thead><tr className="text-left text-slate-400"><th scope="col">Role</th><th scope="col">Host</th><th scope="col">Heartbeat</th><th scope="col">State</th></tr></thead>
            <tbody>
              {data.processes.map((process) => (
                <tr key={process.process_id} className="border-t border-slate-800">
                  <td className="py-1">{process.role}</td>
                  <td>{process.hostname}:{process.pid}</td>
                  <td>{Math.round(process.seconds_since_heartbeat)} s ago</td>
                  <td><Badge value={process.alive ? "online" : "offline"} /></td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="flex flex-col gap-2 text-sm">
            <p className="text-slate-400">Queues{data.queues_error ? ` — ${data.queues_error}` : ""}</p>
            <ul>
              {data.queues.map((queue) => (
                <li key={queue.name}>{queue.name}: {queue.depth} waiting{queue.dead_letters ? `, ${queue.dead_letters} dead` : ""}</li>
              ))}
              {data.queues.length === 0 ? <li className="text-slate-400">No queues (in-process bus).</li> : null}
            </ul>
            <p>Storage: {data.storage.backend} · {(data.storage.recordings_bytes / 1e6).toFixed(1)} MB in {data.storage.recordings_objects} recordings</p>
            <p>Database: {data.database.backend}{data.database.size_bytes != null ? ` · ${(data.database.size_bytes / 1e6).toFixed(1)} MB` : ""}</p>
            <p className="text-xs text-slate-400">Checked {formatTime(data.checked_at)}</p>
          </div>
        </div>
      )}
    </Card>
  );
}

function Users() {
  const queries = useQueryClient();
  const [email, setEmail] = useState("");
  const users = useQuery({
    queryKey: ["admin", "users", email],
    queryFn: () => unwrap(api.GET("/api/v1/admin/users", { params: { query: { limit: 50, ...(email ? { email } : {}) } } })),
  });
  const update = useMutation({
    mutationFn: ({ id, body }: { id: string; body: Schemas["AdminUserUpdate"] }) =>
      unwrap(api.PATCH("/api/v1/admin/users/{user_id}", { params: { path: { user_id: id } }, body })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["admin", "users"] }),
  });
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">Users</h2>
      <div className="mb-3 max-w-xs">
        <TextInput label="Find by email" type="search" value={email} onChange={(e) => setEmail(e.target.value)} />
      </div>
      <ErrorNote error={users.error ?? update.error} />
      {/* Scrollable, so it takes focus (keyboard users scroll it with the arrow keys). */}
      <div className="overflow-x-auto" tabIndex={0} role="region" aria-label="Users table">
        <table className="w-full text-sm">
          <thead><tr className="text-left text-slate-400"><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Plan</th><th scope="col">Last seen</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {(users.data?.items ?? []).map((user) => (
              <tr key={user.id} className="border-t border-slate-800">
                <td className="py-1">{user.email}{user.disabled ? " (disabled)" : ""}</td>
                <td>{user.role}</td>
                <td>
                  <label className="sr-only" htmlFor={`plan-${user.id}`}>Plan of {user.email}</label>
                  <select id={`plan-${user.id}`} value={user.plan} onChange={(e) => update.mutate({ id: user.id, body: { plan: e.target.value as Schemas["Plan"] } })} className="rounded border border-slate-600 bg-slate-900 px-1">
                    <option>free</option><option>pro</option><option>business</option>
                  </select>
                </td>
                <td>{formatTime(user.last_seen_at)}</td>
                <td>
                  <Button tone="ghost" onClick={() => update.mutate({ id: user.id, body: { disabled: !user.disabled } })}>
                    {user.disabled ? "Enable" : "Disable"}
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

function Audit() {
  const [action, setAction] = useState("");
  const audit = useInfiniteQuery({
    queryKey: ["admin", "audit", action],
    initialPageParam: null as number | null,
    queryFn: ({ pageParam }) =>
      unwrap(api.GET("/api/v1/admin/audit", { params: { query: { limit: 50, ...(action ? { action } : {}), ...(pageParam ? { before_seq: pageParam } : {}) } } })),
    getNextPageParam: (page) => page.next_before_seq,
  });
  const items = audit.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">Audit log</h2>
      <div className="mb-3 max-w-xs">
        <TextInput label="Action" placeholder="auth.login" value={action} onChange={(e) => setAction(e.target.value.trim())} />
      </div>
      <ErrorNote error={audit.error} />
      <div className="max-h-[28rem] overflow-auto" tabIndex={0} role="region" aria-label="Audit log entries">
        <table className="w-full text-sm" data-testid="audit">
          <thead className="sticky top-0 bg-slate-900"><tr className="text-left text-slate-400"><th scope="col">#</th><th scope="col">When</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">From</th></tr></thead>
          <tbody>
            {items.map((entry) => (
              <tr key={entry.seq} className="border-t border-slate-800 align-top">
                <td className="py-1 pr-2 text-slate-400">{entry.seq}</td>
                <td className="pr-2">{formatTime(entry.at)}</td>
                <td className="pr-2 font-mono text-xs">{entry.action}</td>
                <td className="pr-2 text-xs">{entry.target_type} {entry.target_id.slice(0, 8)}</td>
                <td className="text-xs text-slate-400">{entry.ip}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {audit.hasNextPage ? <Button tone="secondary" className="mt-2" busy={audit.isFetchingNextPage} onClick={() => void audit.fetchNextPage()}>Older entries</Button> : null}
    </Card>
  );
}

export function AdminPage() {
  const { user } = useAuth();
  if (user?.role !== "admin") return <p>Only administrators can see this page.</p>;
  return (
    <div className="flex flex-col gap-4">
      <PageHeader title="Admin" />
      <Analytics />
      <System />
      <Users />
      <Audit />
    </div>
  );
}
