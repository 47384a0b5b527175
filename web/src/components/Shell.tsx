// The signed-in frame: a side bar on wide screens, a bottom bar on phones, the offline and
// live-link state, and a skip link for keyboard users.
import { NavLink, Outlet } from "react-router";
import { useAuth } from "../lib/auth";
import { useReachable } from "../lib/offline";
import { RealtimeProvider, useRealtimeLink } from "../lib/realtime";
import { Suspense } from "react";
import { Loading } from "./ui";

const links = [
  { to: "/", label: "Home", icon: "⌂", end: true },
  { to: "/cameras", label: "Cameras", icon: "◉" },
  { to: "/events", label: "Events", icon: "☰" },
  { to: "/guards", label: "Guards", icon: "⚑" },
  { to: "/spaces", label: "Spaces", icon: "▦" },
  { to: "/settings", label: "Settings", icon: "⚙" },
];

const linkClass = ({ isActive }: { isActive: boolean }) =>
  `flex items-center gap-3 rounded-md px-3 py-2 text-sm font-medium focus-visible:outline focus-visible:outline-2 focus-visible:outline-sky-400 ${
    isActive ? "bg-slate-800 text-white" : "text-slate-300 hover:bg-slate-800/60 hover:text-white"
  }`;

function OfflineBanner() {
  const reachable = useReachable();
  if (reachable) return null;
  return (
    <div role="alert" data-testid="offline" className="bg-amber-400 px-4 py-2 text-center text-sm font-medium text-slate-950">
      Offline — ORIN cannot be reached. You are seeing the last loaded data; changes wait until the
      connection is back.
    </div>
  );
}

function LinkDot() {
  const link = useRealtimeLink();
  const tone = link === "live" ? "bg-emerald-400" : link === "connecting" ? "bg-sky-400" : "bg-slate-500";
  return (
    <span className="flex items-center gap-2 text-xs text-slate-400" data-testid="live-link" data-state={link}>
      <span aria-hidden="true" className={`h-2 w-2 rounded-full ${tone}`} />
      {link === "live" ? "Live updates on" : link === "connecting" ? "Connecting…" : "Live updates off"}
    </span>
  );
}

export function Shell() {
  const { user, signOut } = useAuth();
  const nav = user?.role === "admin" ? [...links, { to: "/admin", label: "Admin", icon: "★" }] : links;
  return (
    <RealtimeProvider>
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-sky-500 focus:px-3 focus:py-2 focus:text-slate-950">
        Skip to content
      </a>
      <OfflineBanner />
      <div className="flex min-h-dvh">
        <aside className="hidden w-56 shrink-0 flex-col border-r border-slate-800 bg-slate-900/60 p-4 md:flex">
          <p className="mb-6 text-xl font-bold tracking-widest text-sky-400">ORIN</p>
          <nav aria-label="Main" className="flex flex-col gap-1">
            {nav.map((link) => (
              <NavLink key={link.to} to={link.to} end={link.end ?? false} className={linkClass}>
                <span aria-hidden="true">{link.icon}</span>
                {link.label}
              </NavLink>
            ))}
          </nav>
          <div className="mt-auto flex flex-col gap-3 pt-6">
            <LinkDot />
            <p className="truncate text-xs text-slate-400" title={user?.email}>
              {user?.email}
            </p>
            <button type="button" onClick={() => void signOut()} className="rounded-md border border-slate-700 px-3 py-2 text-left text-sm text-slate-200 hover:bg-slate-800 focus-visible:outline focus-visible:outline-2 focus-visible:outline-sky-400">
              Sign out
            </button>
          </div>
        </aside>
        <div className="flex min-w-0 flex-1 flex-col">
          <header className="flex items-center justify-between border-b border-slate-800 px-4 py-3 md:hidden">
            <span className="text-lg font-bold tracking-widest text-sky-400">ORIN</span>
            <LinkDot />
          </header>
          <main id="main" tabIndex={-1} className="flex-1 px-4 pb-24 pt-4 md:px-8 md:pb-8 md:pt-6">
            <Suspense fallback={<Loading />}>
              <Outlet />
            </Suspense>
          </main>
        </div>
      </div>
      <nav aria-label="Main" className="fixed inset-x-0 bottom-0 z-40 grid auto-cols-fr grid-flow-col border-t border-slate-800 bg-slate-950/95 md:hidden">
        {nav.map((link) => (
          <NavLink
            key={link.to}
            to={link.to}
            end={link.end ?? false}
            className={({ isActive }) =>
              `flex flex-col items-center gap-0.5 py-2 text-[11px] focus-visible:outline focus-visible:outline-2 focus-visible:outline-sky-400 ${isActive ? "text-sky-300" : "text-slate-300"}`
            }
          >
            <span aria-hidden="true" className="text-base">{link.icon}</span>
            {link.label}
          </NavLink>
        ))}
      </nav>
    </RealtimeProvider>
  );
}
