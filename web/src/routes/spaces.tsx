// Spaces: list and create; one space with its stats, members and invites; my pending invites.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { Badge, Button, Card, ErrorNote, Loading, PageHeader, Select, TextInput, formatTime } from "../components/ui";
import { spacesQuery } from "../lib/queries";

const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

export function timezones(): string[] {
  const list = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.("timeZone");
  return list && list.length ? (list.includes("UTC") ? list : ["UTC", ...list]) : ["UTC", browserZone];
}

export function SpacesList() {
  const spaces = useQuery(spacesQuery);
  const queries = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const [timezone, setTimezone] = useState(browserZone);
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/spaces", { body: { name, timezone } })),
    onSuccess: (space) => {
      void queries.invalidateQueries({ queryKey: ["spaces"] });
      void navigate(`/spaces/${space.id}`);
    },
  });
  return (
    <div>
      <PageHeader title="Spaces" actions={<Link to="/invites" className="text-sm text-sky-300 hover:underline">My invitations</Link>} />
      <div className="grid gap-4 lg:grid-cols-[1fr_22rem]">
        <Card>
          {spaces.isPending ? <Loading /> : null}
          <ErrorNote error={spaces.error} />
          <ul className="divide-y divide-slate-800" aria-label="Your spaces">
            {(spaces.data?.items ?? []).map((space) => (
              <li key={space.id} className="flex items-center justify-between gap-3 py-3">
                <div>
                  <Link to={`/spaces/${space.id}`} className="font-medium hover:underline">
                    {space.name}
                  </Link>
                  <p className="text-xs text-slate-400">{space.timezone}</p>
                </div>
                <Badge value={space.role} />
              </li>
            ))}
            {spaces.data?.items.length === 0 ? <li className="py-3 text-slate-400">No spaces yet: create one.</li> : null}
          </ul>
        </Card>
        <Card>
          <form
            className="flex flex-col gap-3"
            onSubmit={(event) => {
              event.preventDefault();
              create.mutate();
            }}
          >
            <h2 className="text-lg font-semibold">New space</h2>
            <TextInput label="Space name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} placeholder="Home" />
            <Select label="Time zone" value={timezone} onChange={(e) => setTimezone(e.target.value)}>
              {timezones().map((zone) => (
                <option key={zone}>{zone}</option>
              ))}
            </Select>
            <ErrorNote error={create.error} />
            <Button type="submit" busy={create.isPending}>
              Create space
            </Button>
          </form>
        </Card>
      </div>
    </div>
  );
}

function Members({ space }: { space: Schemas["SpaceOut"] }) {
  const queries = useQueryClient();
  const key = ["spaces", space.id, "members"];
  const path = { space_id: space.id };
  const members = useQuery({
    queryKey: key,
    queryFn: () => unwrap(api.GET("/api/v1/spaces/{space_id}/members", { params: { path } })),
  });
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Schemas["SpaceRole"]>("viewer");
  const refresh = () => void queries.invalidateQueries({ queryKey: key });
  const invite = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/spaces/{space_id}/members", { params: { path }, body: { email, role } })),
    onSuccess: () => {
      setEmail("");
      refresh();
    },
  });
  const change = useMutation({
    mutationFn: (input: { member: string; role?: Schemas["SpaceRole"]; remove?: boolean; invite?: boolean }) =>
      input.invite
        ? unwrap(api.DELETE("/api/v1/spaces/{space_id}/invites/{invite_id}", { params: { path: { ...path, invite_id: input.member } } }))
        : input.remove
          ? unwrap(api.DELETE("/api/v1/spaces/{space_id}/members/{member_id}", { params: { path: { ...path, member_id: input.member } } }))
          : unwrap(
              api.PATCH("/api/v1/spaces/{space_id}/members/{member_id}", {
                params: { path: { ...path, member_id: input.member } },
                body: { role: input.role ?? "viewer" },
              }),
            ),
    onSuccess: refresh,
  });
  const owner = space.role === "owner";
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">Members</h2>
      <ErrorNote error={members.error ?? change.error} />
      <ul className="divide-y divide-slate-800">
        {(members.data?.members ?? []).map((member) => (
          <li key={member.user_id} className="flex flex-wrap items-center justify-between gap-2 py-2">
            <div>
              <p>{member.display_name || member.email}</p>
              <p className="text-xs text-slate-400">{member.email}</p>
            </div>
            {owner && member.role !== "owner" ? (
              <div className="flex items-center gap-2">
                <label className="sr-only" htmlFor={`role-${member.user_id}`}>
                  Role of {member.email}
                </label>
                <select
                  id={`role-${member.user_id}`}
                  value={member.role}
                  onChange={(e) => change.mutate({ member: member.user_id, role: e.target.value as Schemas["SpaceRole"] })}
                  className="rounded-md border border-slate-600 bg-slate-900 px-2 py-1 text-sm"
                >
                  <option value="manager">manager</option>
                  <option value="viewer">viewer</option>
                </select>
                <Button tone="ghost" onClick={() => change.mutate({ member: member.user_id, remove: true })}>
                  Remove
                </Button>
              </div>
            ) : (
              <Badge value={member.role} />
            )}
          </li>
        ))}
      </ul>
      {(members.data?.invites ?? []).length ? (
        <>
          <h3 className="mt-4 text-sm font-semibold text-slate-300">Pending invitations</h3>
          <ul className="divide-y divide-slate-800">
            {(members.data?.invites ?? []).map((item) => (
              <li key={item.id} className="flex items-center justify-between gap-2 py-2 text-sm">
                <span>
                  {item.email} · {item.role} · expires {formatTime(item.expires_at)}
                </span>
                {owner ? (
                  <Button tone="ghost" onClick={() => change.mutate({ member: item.id, invite: true })}>
                    Revoke
                  </Button>
                ) : null}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {owner ? (
        <form
          className="mt-4 grid gap-3 sm:grid-cols-[1fr_10rem_auto] sm:items-end"
          onSubmit={(event) => {
            event.preventDefault();
            invite.mutate();
          }}
        >
          <TextInput label="Invite by email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          <Select label="Role" value={role} onChange={(e) => setRole(e.target.value as Schemas["SpaceRole"])}>
            <option value="viewer">viewer</option>
            <option value="manager">manager</option>
          </Select>
          <Button type="submit" busy={invite.isPending}>
            Invite
          </Button>
          <div className="sm:col-span-3">
            <ErrorNote error={invite.error} />
          </div>
        </form>
      ) : null}
    </Card>
  );
}

export function SpacePage() {
  const { spaceId = "" } = useParams();
  const path = { space_id: spaceId };
  const space = useQuery({
    queryKey: ["spaces", spaceId],
    queryFn: () => unwrap(api.GET("/api/v1/spaces/{space_id}", { params: { path } })),
  });
  const stats = useQuery({
    queryKey: ["stats", "space", spaceId],
    queryFn: () => unwrap(api.GET("/api/v1/spaces/{space_id}/stats", { params: { path } })),
  });
  if (space.isPending) return <Loading />;
  if (!space.data) return <ErrorNote error={space.error} />;
  return (
    <div className="flex flex-col gap-4">
      <PageHeader
        title={space.data.name}
        actions={
          <>
            <Link to={`/cameras/new?space=${spaceId}`} className="rounded-md bg-sky-500 px-4 py-2 text-sm font-medium text-slate-950 hover:bg-sky-400">
              Add camera
            </Link>
            <Link to={`/guards/new?space=${spaceId}`} className="rounded-md border border-slate-600 px-4 py-2 text-sm hover:bg-slate-800">
              New guard
            </Link>
          </>
        }
      />
      <p className="text-sm text-slate-400">
        Time zone {space.data.timezone} · your role <Badge value={space.data.role} />
      </p>
      <dl className="grid grid-cols-2 gap-3 sm:grid-cols-4" aria-label="Space figures">
        {[
          ["Cameras", stats.data?.cameras],
          ["Online", stats.data?.cameras_online],
          ["Catches today", stats.data?.catches_today],
          ["Guards active", stats.data ? `${stats.data.guards_active}/${stats.data.guards}` : undefined],
        ].map(([label, value]) => (
          <div key={String(label)} className="rounded-xl border border-slate-800 bg-slate-900 p-4">
            <dt className="text-xs text-slate-400">{label}</dt>
            <dd className="text-2xl font-semibold">{value ?? "…"}</dd>
          </div>
        ))}
      </dl>
      <Members space={space.data} />
    </div>
  );
}

export function Invites() {
  const queries = useQueryClient();
  const invites = useQuery({
    queryKey: ["invites"],
    queryFn: () => unwrap(api.GET("/api/v1/invites")),
  });
  const answer = useMutation({
    mutationFn: ({ id, accept }: { id: string; accept: boolean }) =>
      accept
        ? unwrap(api.POST("/api/v1/invites/{invite_id}/accept", { params: { path: { invite_id: id } } }))
        : unwrap(api.POST("/api/v1/invites/{invite_id}/decline", { params: { path: { invite_id: id } } })),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["invites"] });
      void queries.invalidateQueries({ queryKey: ["spaces"] });
    },
  });
  return (
    <div>
      <PageHeader title="Invitations" />
      <Card>
        <ErrorNote error={invites.error ?? answer.error} />
        <ul className="divide-y divide-slate-800">
          {(invites.data ?? []).map((item) => (
            <li key={item.id} className="flex flex-wrap items-center justify-between gap-2 py-3">
              <span>
                <strong>{item.space_name}</strong> as {item.role}
              </span>
              <span className="flex gap-2">
                <Button onClick={() => answer.mutate({ id: item.id, accept: true })}>Accept</Button>
                <Button tone="secondary" onClick={() => answer.mutate({ id: item.id, accept: false })}>
                  Decline
                </Button>
              </span>
            </li>
          ))}
          {invites.data?.length === 0 ? <li className="py-3 text-slate-400">No invitations waiting.</li> : null}
        </ul>
      </Card>
    </div>
  );
}
