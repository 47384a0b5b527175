// Routes; every screen is its own chunk, loaded when first visited.
import { createBrowserRouter, Navigate, Outlet, useLocation } from "react-router";
import { Shell } from "./components/Shell";
import { Loading } from "./components/ui";
import { useAuth } from "./lib/auth";

export function OfflineScreen() {
  return (
    <main id="main" className="flex min-h-dvh flex-col items-center justify-center gap-4 px-6 text-center">
      <p className="text-3xl font-bold tracking-widest text-sky-400">ORIN</p>
      <div role="alert" data-testid="offline" className="max-w-md rounded-xl border border-amber-400/70 bg-amber-950/60 p-5">
        <h1 className="mb-2 text-xl font-semibold">You are offline</h1>
        <p className="text-slate-200">
          ORIN cannot be reached right now. Check your connection; this page reconnects by itself
          when the network is back.
        </p>
      </div>
      <button type="button" onClick={() => window.location.reload()} className="rounded-md bg-sky-500 px-4 py-2 font-medium text-slate-950 hover:bg-sky-400 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-300">
        Try again
      </button>
    </main>
  );
}

function RequireAuth() {
  const { status } = useAuth();
  const location = useLocation();
  if (status === "loading") return <Loading />;
  if (status === "offline") return <OfflineScreen />;
  if (status === "signed-out") {
    const next = location.pathname + location.search;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <Shell />;
}

function Public() {
  return (
    <main id="main" className="flex min-h-dvh items-start justify-center px-4 py-10 sm:items-center">
      <div className="w-full max-w-md">
        <p className="mb-6 text-center text-3xl font-bold tracking-widest text-sky-400">ORIN</p>
        <Outlet />
      </div>
    </main>
  );
}

const page =
  <K extends string>(load: () => Promise<Record<K, React.ComponentType>>, name: K) =>
  async () => ({ Component: (await load())[name] });

const auth = () => import("./routes/auth");
const spaces = () => import("./routes/spaces");
const cameras = () => import("./routes/cameras");
const guards = () => import("./routes/guards");
const events = () => import("./routes/events");
const settings = () => import("./routes/settings");
const admin = () => import("./routes/admin");
const dashboard = () => import("./routes/dashboard");

export const router = createBrowserRouter([
  {
    element: <Public />,
    hydrateFallbackElement: <Loading />,
    children: [
      { path: "/login", lazy: page(auth, "SignIn") },
      { path: "/login/mfa", lazy: page(auth, "MfaStep") },
      { path: "/signup", lazy: page(auth, "SignUp") },
      { path: "/verify-email", lazy: page(auth, "VerifyEmail") },
      { path: "/forgot-password", lazy: page(auth, "ForgotPassword") },
      { path: "/reset-password", lazy: page(auth, "ResetPassword") },
    ],
  },
  {
    element: <RequireAuth />,
    hydrateFallbackElement: <Loading />,
    children: [
      { path: "/", lazy: page(dashboard, "Dashboard") },
      { path: "/spaces", lazy: page(spaces, "SpacesList") },
      { path: "/spaces/:spaceId", lazy: page(spaces, "SpacePage") },
      { path: "/invites", lazy: page(spaces, "Invites") },
      { path: "/cameras", lazy: page(cameras, "CamerasGrid") },
      { path: "/cameras/new", lazy: page(cameras, "AddCamera") },
      { path: "/cameras/:cameraId", lazy: page(cameras, "CameraPage") },
      { path: "/guards", lazy: page(guards, "GuardsList") },
      { path: "/guards/new", lazy: page(guards, "GuardEditor") },
      { path: "/guards/:guardId", lazy: page(guards, "GuardPage") },
      { path: "/events", lazy: page(events, "EventsPage") },
      { path: "/events/:eventId", lazy: page(events, "EventsPage") },
      { path: "/settings", lazy: page(settings, "SettingsPage") },
      { path: "/admin", lazy: page(admin, "AdminPage") },
      { path: "*", element: <Navigate to="/" replace /> },
    ],
  },
]);
