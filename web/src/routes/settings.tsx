// Settings: profile, time zone, quiet hours, channels, push on this device, two-step sign-in,
// sessions, data export and account deletion.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, sameOrigin, unwrap, type Schemas } from "../api/client";
import { Button, Card, ErrorNote, Loading, PageHeader, Select, TextInput, formatTime } from "../components/ui";
import { useAuth } from "../lib/auth";
import { currentPushSubscription, subscribePush } from "../lib/pwa";
import { preferencesQuery } from "../lib/queries";
import { timezones } from "./spaces";

type Preferences = Schemas["Preferences"];
type Weekday = Schemas["Weekday"];
const DAYS: Weekday[] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const CHANNELS: Schemas["Channel"][] = ["push", "email", "sms", "webhook"];

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">{title}</h2>
      {children}
    </Card>
  );
}

function Profile() {
  const { user, setUser } = useAuth();
  const [name, setName] = useState(user?.display_name ?? "");
  const save = useMutation({
    mutationFn: () => unwrap(api.PATCH("/api/v1/user/me", { body: { display_name: name } })),
    onSuccess: setUser,
  });
  return (
    <Section title="Profile">
      <form className="flex flex-col gap-3" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
        <TextInput label="Name" value={name} onChange={(e) => setName(e.target.value)} />
        <p className="text-sm text-slate-400">
          {user?.email} · {user?.email_verified ? "verified" : "not verified yet"} · plan {user?.plan}
        </p>
        <ErrorNote error={save.error} />
        <div>
          <Button type="submit" busy={save.isPending}>Save profile</Button>
          {save.isSuccess ? <span role="status" className="ml-3 text-sm text-emerald-300">Saved.</span> : null}
        </div>
      </form>
    </Section>
  );
}

function QuietHours({ value, onChange }: { value: Schemas["QuietWindow"][]; onChange: (windows: Schemas["QuietWindow"][]) => void }) {
  const set = (index: number, patch: Partial<Schemas["QuietWindow"]>) =>
    onChange(value.map((window, i) => (i === index ? { ...window, ...patch } : window)));
  return (
    <fieldset className="flex flex-col gap-3">
      <legend className="mb-1 text-sm font-medium">Quiet hours (notifications are held, then sent as a digest)</legend>
      {value.map((window, index) => (
        <div key={index} className="flex flex-col gap-2 rounded-md border border-slate-700 p-3" data-testid="quiet-window">
          <div className="flex flex-wrap gap-2" role="group" aria-label={`Days of quiet window ${index + 1}`}>
            {DAYS.map((day) => (
              <label key={day} className="flex items-center gap-1 text-sm">
                <input
                  type="checkbox"
                  className="h-4 w-4 accent-sky-500"
                  checked={window.days.includes(day)}
                  onChange={(e) => set(index, { days: e.target.checked ? [...window.days, day] : window.days.filter((d) => d !== day) })}
                />
                {day}
              </label>
            ))}
          </div>
          <div className="flex flex-wrap items-end gap-2">
            <TextInput label="From" type="time" value={window.start.slice(0, 5)} onChange={(e) => set(index, { start: e.target.value })} />
            <TextInput label="To" type="time" value={window.end.slice(0, 5)} onChange={(e) => set(index, { end: e.target.value })} />
            <Button tone="ghost" onClick={() => onChange(value.filter((_, i) => i !== index))}>Remove window</Button>
          </div>
        </div>
      ))}
      <div>
        <Button tone="secondary" onClick={() => onChange([...value, { days: [...DAYS], start: "22:00", end: "07:00" }])}>Add quiet window</Button>
      </div>
    </fieldset>
  );
}

function PreferencesForm({ initial }: { initial: Preferences }) {
  const queries = useQueryClient();
  const [prefs, setPrefs] = useState(initial);
  useEffect(() => setPrefs(initial), [initial]);
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PATCH("/api/v1/user/me/preferences", {
          body: {
            timezone: prefs.timezone ?? null,
            quiet_hours: prefs.quiet_hours ?? [],
            critical_bypasses_quiet_hours: prefs.critical_bypasses_quiet_hours ?? true,
            channels: prefs.channels ?? [],
            sms_number: prefs.sms_number || null,
            webhook_url: prefs.webhook_url || null,
          },
        }),
      ),
    onSuccess: (saved) => queries.setQueryData(preferencesQuery.queryKey, saved),
  });
  const channels = prefs.channels ?? [];
  return (
    <Section title="Notifications">
      <form className="flex flex-col gap-4" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
        <Select label="Time zone" value={prefs.timezone ?? "UTC"} onChange={(e) => setPrefs({ ...prefs, timezone: e.target.value })}>
          {timezones().map((zone) => <option key={zone}>{zone}</option>)}
        </Select>
        <fieldset className="flex flex-wrap gap-4">
          <legend className="mb-1 text-sm font-medium">Channels</legend>
          {CHANNELS.map((channel) => (
            <label key={channel} className="flex items-center gap-2 text-sm">
              <input
                type="checkbox"
                className="h-4 w-4 accent-sky-500"
                checked={channels.includes(channel)}
                onChange={(e) => setPrefs({ ...prefs, channels: e.target.checked ? [...channels, channel] : channels.filter((c) => c !== channel) })}
              />
              {channel}
            </label>
          ))}
        </fieldset>
        <div className="grid gap-3 sm:grid-cols-2">
          <TextInput label="SMS number" type="tel" autoComplete="tel" placeholder="+33612345678" value={prefs.sms_number ?? ""} onChange={(e) => setPrefs({ ...prefs, sms_number: e.target.value })} hint="International format (E.164)." />
          <TextInput label="Webhook URL" type="url" placeholder="https://example.com/orin" value={prefs.webhook_url ?? ""} onChange={(e) => setPrefs({ ...prefs, webhook_url: e.target.value })} />
        </div>
        <QuietHours value={prefs.quiet_hours ?? []} onChange={(quiet_hours) => setPrefs({ ...prefs, quiet_hours })} />
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" className="h-4 w-4 accent-sky-500" checked={prefs.critical_bypasses_quiet_hours ?? true} onChange={(e) => setPrefs({ ...prefs, critical_bypasses_quiet_hours: e.target.checked })} />
          Critical catches come through during quiet hours
        </label>
        <ErrorNote error={save.error} />
        <div>
          <Button type="submit" busy={save.isPending}>Save notification settings</Button>
          {save.isSuccess ? <span role="status" className="ml-3 text-sm text-emerald-300">Saved.</span> : null}
        </div>
      </form>
    </Section>
  );
}

function Push() {
  const queries = useQueryClient();
  const key = useQuery({ queryKey: ["push-key"], queryFn: () => unwrap(api.GET("/api/v1/notifications/push-key")) });
  const subscriptions = useQuery({ queryKey: ["push-subscriptions"], queryFn: () => unwrap(api.GET("/api/v1/user/me/push-subscriptions")) });
  const here = useQuery({ queryKey: ["push-here"], queryFn: async () => (await currentPushSubscription())?.endpoint ?? null });
  const refresh = () => {
    void queries.invalidateQueries({ queryKey: ["push-subscriptions"] });
    void queries.invalidateQueries({ queryKey: ["push-here"] });
  };
  const subscribe = useMutation({
    mutationFn: async () => {
      if (!key.data?.public_key) throw new Error("Web Push is not set up on this server.");
      const subscription = await subscribePush(key.data.public_key);
      const keys = subscription.keys ?? {};
      return unwrap(
        api.POST("/api/v1/user/me/push-subscriptions", {
          body: { kind: "webpush", endpoint: subscription.endpoint ?? "", keys: { p256dh: keys.p256dh ?? "", auth: keys.auth ?? "" } },
        }),
      );
    },
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: async (item: Schemas["PushSubscriptionOut"]) => {
      await unwrap(api.DELETE("/api/v1/user/me/push-subscriptions/{subscription_id}", { params: { path: { subscription_id: item.id } } }));
      const current = await currentPushSubscription();
      if (current?.endpoint === item.endpoint) await current.unsubscribe();
    },
    onSuccess: refresh,
  });
  const supported = "serviceWorker" in navigator && "PushManager" in window;
  const subscribedHere = (subscriptions.data ?? []).some((item) => item.endpoint === here.data);
  return (
    <Section title="Push notifications">
      {!supported ? <p className="text-sm text-slate-400">This browser cannot receive push notifications. On iPhone, add ORIN to the home screen first.</p> : null}
      {key.data && !key.data.public_key ? <p className="text-sm text-slate-400">Web Push is not set up on this server (no VAPID key).</p> : null}
      <ul className="mb-3 divide-y divide-slate-800 text-sm">
        {(subscriptions.data ?? []).map((item) => (
          <li key={item.id} className="flex items-center justify-between gap-2 py-2">
            <span className="truncate">
              {item.kind} · {item.user_agent || "unknown device"}
              {item.endpoint === here.data ? " (this device)" : ""}
            </span>
            <Button tone="ghost" onClick={() => remove.mutate(item)}>Remove</Button>
          </li>
        ))}
      </ul>
      <Button disabled={!supported || !key.data?.public_key || subscribedHere} busy={subscribe.isPending} onClick={() => subscribe.mutate()}>
        {subscribedHere ? "This device gets push notifications" : "Get push notifications on this device"}
      </Button>
      <ErrorNote error={subscribe.error ?? remove.error} />
    </Section>
  );
}

function TwoStep() {
  const queries = useQueryClient();
  const status = useQuery({ queryKey: ["mfa"], queryFn: () => unwrap(api.GET("/api/v1/auth/mfa")) });
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [codes, setCodes] = useState<string[] | null>(null);
  const refresh = () => void queries.invalidateQueries({ queryKey: ["mfa"] });
  const enrol = useMutation({ mutationFn: () => unwrap(api.POST("/api/v1/auth/mfa/enrol", { body: { password } })) });
  const confirm = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/auth/mfa/confirm", { body: { code } })),
    onSuccess: (answer) => {
      setCodes(answer.recovery_codes);
      enrol.reset();
      refresh();
    },
  });
  const disable = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/auth/mfa/disable", { body: { password, code } })),
    onSuccess: refresh,
  });
  if (!status.data) return <Section title="Two-step sign-in"><ErrorNote error={status.error} /></Section>;
  return (
    <Section title="Two-step sign-in">
      <p className="mb-3 text-sm">{status.data.enabled ? `On since ${formatTime(status.data.enabled_at)} · ${status.data.recovery_codes_remaining} recovery codes left.` : "Off: add a code from an authenticator app to your sign-in."}</p>
      {codes ? (
        <div role="status" className="mb-3 rounded-md border border-amber-400/60 p-3 text-sm">
          <p className="mb-2">Keep these recovery codes somewhere safe; each works once.</p>
          <ul className="grid grid-cols-2 gap-1 font-mono">{codes.map((item) => <li key={item}>{item}</li>)}</ul>
        </div>
      ) : null}
      <form className="flex flex-col gap-3" onSubmit={(e) => {
        e.preventDefault();
        if (status.data.enabled) disable.mutate();
        else if (enrol.data) confirm.mutate();
        else enrol.mutate();
      }}>
        {!enrol.data ? <TextInput label="Your password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} /> : null}
        {enrol.data ? (
          <p className="break-all text-sm">
            Add this key to your authenticator app: <code className="font-mono text-sky-200">{enrol.data.secret}</code>{" "}
            (<a className="text-sky-300 underline" href={enrol.data.otpauth_uri}>open in an app</a>)
          </p>
        ) : null}
        {enrol.data || status.data.enabled ? <TextInput label="Code from the app" inputMode="numeric" autoComplete="one-time-code" required value={code} onChange={(e) => setCode(e.target.value)} /> : null}
        <ErrorNote error={enrol.error ?? confirm.error ?? disable.error} />
        <div>
          <Button type="submit" tone={status.data.enabled ? "danger" : "primary"} busy={enrol.isPending || confirm.isPending || disable.isPending}>
            {status.data.enabled ? "Turn off" : enrol.data ? "Confirm" : "Turn on"}
          </Button>
        </div>
      </form>
    </Section>
  );
}

function Sessions() {
  const queries = useQueryClient();
  const sessions = useQuery({ queryKey: ["sessions"], queryFn: () => unwrap(api.GET("/api/v1/user/me/sessions")) });
  const refresh = () => void queries.invalidateQueries({ queryKey: ["sessions"] });
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/v1/user/me/sessions/{session_id}", { params: { path: { session_id: id } } })),
    onSuccess: refresh,
  });
  const others = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/user/me/sessions", { params: { query: { scope: "others" } } })),
    onSuccess: refresh,
  });
  return (
    <Section title="Signed-in devices">
      {sessions.isPending ? <Loading /> : null}
      <ul className="divide-y divide-slate-800 text-sm" data-testid="sessions">
        {(sessions.data ?? []).map((session) => (
          <li key={session.id} className="flex flex-wrap items-center justify-between gap-2 py-2">
            <div className="min-w-0">
              {/* The long user agent is cut short, never the "this device" note. */}
              <p className="flex gap-1">
                <span className="truncate">{session.user_agent || "Unknown device"}</span>
                {session.current ? <span className="shrink-0 font-medium text-emerald-300">— this device</span> : null}
              </p>
              <p className="text-xs text-slate-400">{session.ip} · last seen {formatTime(session.last_seen_at)}</p>
            </div>
            {!session.current ? <Button tone="ghost" onClick={() => revoke.mutate(session.id)}>Sign out</Button> : null}
          </li>
        ))}
      </ul>
      <Button tone="secondary" className="mt-2" busy={others.isPending} onClick={() => others.mutate()}>Sign out every other device</Button>
      <ErrorNote error={sessions.error ?? revoke.error ?? others.error} />
    </Section>
  );
}

function YourData() {
  const { forget } = useAuth();
  const queries = useQueryClient();
  const exports = useQuery({
    queryKey: ["exports"],
    queryFn: () => unwrap(api.GET("/api/v1/user/me/exports")),
    refetchInterval: (query) => (query.state.data?.some((item) => item.status === "pending") ? 3000 : false),
  });
  const request = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/user/me/export")),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["exports"] }),
  });
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const erase = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/user/me", { body: { password: password || null, confirm } })),
    // The account and its sessions are gone (and the cookies cleared): nothing to sign out of.
    onSuccess: forget,
  });
  return (
    <Section title="Your data">
      <p className="mb-2 text-sm text-slate-400">Download everything ORIN keeps about you (a ZIP of JSON files and your media).</p>
      <ul className="mb-2 text-sm">
        {(exports.data ?? []).map((item) => (
          <li key={item.id}>
            {formatTime(item.created_at)} · {item.status}
            {item.download_url ? (
              <> · <a className="text-sky-300 underline" href={sameOrigin(item.download_url)}>download</a></>
            ) : null}
          </li>
        ))}
      </ul>
      <Button tone="secondary" busy={request.isPending} onClick={() => request.mutate()}>Export my data</Button>
      <ErrorNote error={request.error ?? exports.error} />
      <form className="mt-6 flex flex-col gap-3 border-t border-slate-800 pt-4" onSubmit={(e) => { e.preventDefault(); erase.mutate(); }}>
        <h3 className="font-semibold text-red-300">Delete my account</h3>
        <p className="text-sm text-slate-400">Your spaces you own, cameras, recordings and events are erased. This cannot be undone.</p>
        <TextInput label="Password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        <TextInput label='Type "delete my account" to confirm' value={confirm} onChange={(e) => setConfirm(e.target.value)} />
        <ErrorNote error={erase.error} />
        <div>
          <Button type="submit" tone="danger" disabled={confirm !== "delete my account"} busy={erase.isPending}>Delete my account</Button>
        </div>
      </form>
    </Section>
  );
}

export function SettingsPage() {
  const preferences = useQuery(preferencesQuery);
  return (
    <div className="flex max-w-3xl flex-col gap-4">
      <PageHeader title="Settings" />
      <Profile />
      {preferences.data ? <PreferencesForm initial={preferences.data} /> : <ErrorNote error={preferences.error} />}
      <Push />
      <TwoStep />
      <Sessions />
      <YourData />
    </div>
  );
}
