// Sign in (with the two-step code and Google/Apple), sign up, email verification, password reset.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { Button, Card, ErrorNote, TextInput } from "../components/ui";
import { useAuth } from "../lib/auth";

function safeNext(value: string | null): string {
  return value && value.startsWith("/") && !value.startsWith("//") ? value : "/";
}

function Heading({ children }: { children: string }) {
  return <h1 className="mb-4 text-xl font-semibold">{children}</h1>;
}

const providerNames: Record<string, string> = { google: "Google", apple: "Apple" };

function ProviderButtons({ next }: { next: string }) {
  const providers = useQuery({
    queryKey: ["oauth-providers"],
    queryFn: () => unwrap(api.GET("/api/v1/auth/oauth/providers")),
    staleTime: Infinity,
  });
  const available = new Set(providers.data ?? []);
  return (
    <div className="grid gap-2 sm:grid-cols-2">
      {["google", "apple"].map((provider) => {
        const label = `Sign in with ${providerNames[provider]}`;
        const href = `/api/v1/auth/oauth/${provider}/start?return_to=${encodeURIComponent(next)}`;
        return available.has(provider) ? (
          <a
            key={provider}
            href={href}
            className="inline-flex min-h-10 items-center justify-center rounded-md border border-slate-600 bg-slate-800 px-4 py-2 text-sm font-medium hover:bg-slate-700 focus-visible:outline focus-visible:outline-2 focus-visible:outline-sky-400"
          >
            {label}
          </a>
        ) : (
          <button
            key={provider}
            type="button"
            disabled
            title={`${providerNames[provider]} sign-in is not set up on this server`}
            className="inline-flex min-h-10 cursor-not-allowed items-center justify-center rounded-md border border-slate-700 px-4 py-2 text-sm text-slate-400"
          >
            {label}
          </button>
        );
      })}
    </div>
  );
}

function MfaForm({ challenge, next }: { challenge: string; next: string }) {
  const { accept } = useAuth();
  const navigate = useNavigate();
  const [code, setCode] = useState("");
  const [recovery, setRecovery] = useState(false);
  const verify = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/auth/mfa/verify", {
          body: {
            challenge_token: challenge,
            use_cookie: true,
            ...(recovery ? { recovery_code: code.trim() } : { code: code.trim() }),
          },
        }),
      ),
    onSuccess: (pair) => {
      accept(pair);
      void navigate(next, { replace: true });
    },
  });
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        verify.mutate();
      }}
      className="flex flex-col gap-4"
    >
      <Heading>Two-step sign-in</Heading>
      <TextInput
        label={recovery ? "Recovery code" : "Code from your authenticator app"}
        inputMode={recovery ? "text" : "numeric"}
        autoComplete="one-time-code"
        autoFocus
        required
        value={code}
        onChange={(event) => setCode(event.target.value)}
      />
      <ErrorNote error={verify.error} />
      <Button type="submit" busy={verify.isPending}>
        Verify
      </Button>
      <button
        type="button"
        className="text-sm text-sky-300 underline-offset-2 hover:underline"
        onClick={() => setRecovery(!recovery)}
      >
        {recovery ? "Use an authenticator code" : "Use a recovery code instead"}
      </button>
    </form>
  );
}

export function SignIn() {
  const { status, accept } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [challenge, setChallenge] = useState<string | null>(null);
  const login = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/auth/login", { body: { email, password, use_cookie: true } })),
    onSuccess: (answer) => {
      if ("challenge_token" in answer) {
        setChallenge(answer.challenge_token);
        return;
      }
      accept(answer as Schemas["TokenPair"]);
      void navigate(next, { replace: true });
    },
  });
  if (status === "signed-in" && !challenge) return <Navigate to={next} replace />;
  const oauthError = params.get("error");
  return (
    <Card className="p-6">
      {challenge ? (
        <MfaForm challenge={challenge} next={next} />
      ) : (
        <form
          className="flex flex-col gap-4"
          onSubmit={(event: FormEvent) => {
            event.preventDefault();
            login.mutate();
          }}
        >
          <Heading>Sign in</Heading>
          {oauthError ? (
            <p role="alert" className="text-sm text-red-300">
              Signing in with the provider did not work ({oauthError}). Try again.
            </p>
          ) : null}
          <TextInput label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          <TextInput label="Password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          <ErrorNote error={login.error} />
          <Button type="submit" busy={login.isPending}>
            Sign in
          </Button>
          <ProviderButtons next={next} />
          <div className="flex justify-between text-sm">
            <Link to="/forgot-password" className="text-sky-300 hover:underline">
              Forgot password?
            </Link>
            <Link to="/signup" className="text-sky-300 hover:underline">
              Create an account
            </Link>
          </div>
        </form>
      )}
    </Card>
  );
}

/** Where the OIDC callback sends accounts with two-step sign-in: the challenge is in the
 * fragment (never sent to a server). */
export function MfaStep() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const challenge = fragment.get("challenge");
  if (!challenge) return <Navigate to="/login" replace />;
  return (
    <Card className="p-6">
      <MfaForm challenge={challenge} next={safeNext(fragment.get("return_to"))} />
    </Card>
  );
}

export function SignUp() {
  const { status, accept } = useAuth();
  const navigate = useNavigate();
  const [form, setForm] = useState({ email: "", password: "", display_name: "" });
  const register = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/auth/register", { body: { ...form, use_cookie: true } })),
    onSuccess: (pair) => {
      accept(pair);
      void navigate("/?welcome=1", { replace: true });
    },
  });
  if (status === "signed-in" && !register.isSuccess) return <Navigate to="/" replace />;
  const set = (key: keyof typeof form) => (event: React.ChangeEvent<HTMLInputElement>) =>
    setForm({ ...form, [key]: event.target.value });
  return (
    <Card className="p-6">
      <form
        className="flex flex-col gap-4"
        onSubmit={(event) => {
          event.preventDefault();
          register.mutate();
        }}
      >
        <Heading>Create your account</Heading>
        <TextInput label="Name" autoComplete="name" value={form.display_name} onChange={set("display_name")} />
        <TextInput label="Email" type="email" autoComplete="email" required value={form.email} onChange={set("email")} />
        <TextInput
          label="Password"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          hint="At least 8 characters, mixing letters, digits and symbols — or a long passphrase."
          value={form.password}
          onChange={set("password")}
        />
        <ErrorNote error={register.error} />
        <Button type="submit" busy={register.isPending}>
          Sign up
        </Button>
        <p className="text-sm">
          Already have an account?{" "}
          <Link to="/login" className="text-sky-300 underline underline-offset-2">
            Sign in
          </Link>
        </p>
      </form>
    </Card>
  );
}

export function VerifyEmail() {
  const [params] = useSearchParams();
  const token = params.get("token");
  const { status, setUser } = useAuth();
  const started = useRef(false);
  const verify = useMutation({
    mutationFn: (value: string) =>
      unwrap(api.POST("/api/v1/auth/verify-email", { body: { token: value } })),
    onSuccess: (user) => {
      if (status === "signed-in") setUser(user);
    },
  });
  useEffect(() => {
    // Once only: the token works once (StrictMode runs effects twice in development).
    if (token && !started.current) {
      started.current = true;
      verify.mutate(token);
    }
  }, [token, verify]);
  return (
    <Card className="p-6">
      <Heading>Verify your email</Heading>
      {!token ? <p>This link has no token. Open the link from the mail again.</p> : null}
      {verify.isPending ? <p role="status">Checking your link…</p> : null}
      <ErrorNote error={verify.error} />
      {verify.isSuccess ? (
        <div className="flex flex-col gap-4" data-testid="verified">
          <p role="status">Thanks — {verify.data.email} is verified.</p>
          <Link to="/" className="font-medium text-sky-300 hover:underline">
            Continue to ORIN
          </Link>
        </div>
      ) : null}
    </Card>
  );
}

export function ForgotPassword() {
  const [email, setEmail] = useState("");
  const forgot = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/auth/password/forgot", { body: { email } })),
  });
  return (
    <Card className="p-6">
      <form
        className="flex flex-col gap-4"
        onSubmit={(event) => {
          event.preventDefault();
          forgot.mutate();
        }}
      >
        <Heading>Reset your password</Heading>
        <TextInput label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <ErrorNote error={forgot.error} />
        {forgot.isSuccess ? <p role="status">{forgot.data.detail}</p> : null}
        <Button type="submit" busy={forgot.isPending}>
          Send me a link
        </Button>
        <Link to="/login" className="text-sm text-sky-300 hover:underline">
          Back to sign in
        </Link>
      </form>
    </Card>
  );
}

export function ResetPassword() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [password, setPassword] = useState("");
  const reset = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/auth/password/reset", { body: { token, password } })),
  });
  return (
    <Card className="p-6">
      <form
        className="flex flex-col gap-4"
        onSubmit={(event) => {
          event.preventDefault();
          reset.mutate();
        }}
      >
        <Heading>Choose a new password</Heading>
        <TextInput label="New password" type="password" autoComplete="new-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        <ErrorNote error={reset.error} />
        {reset.isSuccess ? (
          <p role="status">
            Your password is changed and other devices are signed out.{" "}
            <Link to="/login" className="text-sky-300 underline underline-offset-2">
              Sign in
            </Link>
          </p>
        ) : (
          <Button type="submit" busy={reset.isPending} disabled={!token}>
            Change password
          </Button>
        )}
      </form>
    </Card>
  );
}
