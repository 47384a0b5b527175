// Home: what needs attention now (unverified address, cameras, today's catches, latest events).
import { useMutation, useQueries, useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, unwrap } from "../api/client";
import { Badge, Button, Card, ErrorNote, Loading, PageHeader, formatTime } from "../components/ui";
import { useAuth } from "../lib/auth";
import { camerasQuery, spacesQuery } from "../lib/queries";

function VerifyBanner() {
  const resend = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/auth/verify-email/resend")),
  });
  return (
    <div role="note" className="mb-4 flex flex-wrap items-center gap-3 rounded-lg border border-amber-400/60 bg-amber-950/60 p-3 text-sm">
      <span>Check your inbox: verify your email address to share spaces and get email alerts.</span>
      <Button tone="secondary" busy={resend.isPending} onClick={() => resend.mutate()}>
        Send the link again
      </Button>
      {resend.isSuccess ? <span role="status">Sent.</span> : null}
      <ErrorNote error={resend.error} />
    </div>
  );
}

export function Dashboard() {
  const { user } = useAuth();
  const spaces = useQuery(spacesQuery);
  const cameras = useQuery(camerasQuery());
  const items = spaces.data?.items ?? [];
  const stats = useQueries({
    queries: items.map((space) => ({
      queryKey: ["stats", "space", space.id],
      queryFn: () =>
        unwrap(api.GET("/api/v1/spaces/{space_id}/stats", { params: { path: { space_id: space.id } } })),
    })),
  });
  const recent = useQuery({
    queryKey: ["events", "recent"],
    queryFn: () => unwrap(api.GET("/api/v1/events", { params: { query: { limit: 8, kind: "catch" } } })),
  });
  if (spaces.isPending) return <Loading />;
  return (
    <div data-testid="dashboard">
      <PageHeader title={`Hello${user?.display_name ? `, ${user.display_name}` : ""}`} />
      {user && !user.email_verified ? <VerifyBanner /> : null}
      <ErrorNote error={spaces.error} />
      {items.length === 0 ? (
        <Card>
          <h2 className="mb-2 text-lg font-semibold">Start with a space</h2>
          <p className="mb-4 text-slate-300">A space is a place you watch — your home, a shop, a warehouse.</p>
          <Link to="/spaces" className="rounded-md bg-sky-500 px-4 py-2 font-medium text-slate-950 hover:bg-sky-400">
            Create a space
          </Link>
        </Card>
      ) : (
        <div className="grid gap-4 sm:grid-cols-2 xl:grid-cols-3">
          {items.map((space, index) => {
            const figures = stats[index]?.data;
            return (
              <Card key={space.id}>
                <h2 className="mb-3 text-lg font-semibold">
                  <Link to={`/spaces/${space.id}`} className="hover:underline">
                    {space.name}
                  </Link>
                </h2>
                <dl className="grid grid-cols-3 gap-2 text-center">
                  {[
                    ["Cameras online", figures ? `${figures.cameras_online}/${figures.cameras}` : "…"],
                    ["Catches today", figures?.catches_today ?? "…"],
                    ["Guards active", figures ? `${figures.guards_active}/${figures.guards}` : "…"],
                  ].map(([label, value]) => (
                    <div key={String(label)} className="rounded-md bg-slate-800/60 p-2">
                      <dt className="text-xs text-slate-400">{label}</dt>
                      <dd className="text-lg font-semibold">{value}</dd>
                    </div>
                  ))}
                </dl>
              </Card>
            );
          })}
        </div>
      )}
      <div className="mt-6 grid gap-4 lg:grid-cols-2">
        <Card>
          <h2 className="mb-3 text-lg font-semibold">Cameras</h2>
          <ul className="divide-y divide-slate-800">
            {(cameras.data?.items ?? []).map((camera) => (
              <li key={camera.id} className="flex items-center justify-between py-2">
                <Link to={`/cameras/${camera.id}`} className="hover:underline">
                  {camera.name}
                </Link>
                <Badge value={camera.status} />
              </li>
            ))}
            {cameras.data?.items.length === 0 ? <li className="py-2 text-slate-400">No cameras yet.</li> : null}
          </ul>
        </Card>
        <Card>
          <h2 className="mb-3 text-lg font-semibold">Latest catches</h2>
          <ul className="divide-y divide-slate-800">
            {(recent.data?.items ?? []).map((event) => (
              <li key={event.id} className="flex items-center justify-between gap-2 py-2">
                <Link to={`/events/${event.id}`} className="hover:underline">
                  {event.label ?? event.kind} <span className="text-slate-400">· {formatTime(event.started_at)}</span>
                </Link>
                {event.review_state ? <Badge value={event.review_state} /> : null}
              </li>
            ))}
            {recent.data?.items.length === 0 ? <li className="py-2 text-slate-400">Nothing caught yet.</li> : null}
          </ul>
        </Card>
      </div>
    </div>
  );
}
