// Small accessible building blocks: every input has a visible label, every control a focus ring.
import {
  useId,
  type ButtonHTMLAttributes,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
} from "react";
import { ApiError } from "../api/client";

const focus =
  "focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-400";

type Tone = "primary" | "secondary" | "danger" | "ghost";
const tones: Record<Tone, string> = {
  primary: "bg-sky-500 text-slate-950 hover:bg-sky-400 disabled:bg-sky-800 disabled:text-slate-300",
  secondary: "bg-slate-800 text-slate-100 hover:bg-slate-700 border border-slate-600",
  danger: "bg-red-600 text-white hover:bg-red-500",
  ghost: "text-slate-200 hover:bg-slate-800",
};

export function Button({
  tone = "primary",
  className = "",
  busy = false,
  children,
  ...rest
}: ButtonHTMLAttributes<HTMLButtonElement> & { tone?: Tone; busy?: boolean }) {
  return (
    <button
      type="button"
      {...rest}
      disabled={rest.disabled || busy}
      aria-busy={busy || undefined}
      className={`inline-flex min-h-10 items-center justify-center gap-2 rounded-md px-4 py-2 text-sm font-medium transition-colors disabled:cursor-not-allowed ${tones[tone]} ${focus} ${className}`}
    >
      {busy ? <Spinner /> : null}
      {children}
    </button>
  );
}

export const inputClass = `w-full rounded-md border border-slate-600 bg-slate-900 px-3 py-2 text-slate-100 placeholder:text-slate-400 ${focus}`;

export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: ReactNode;
  error?: string | null;
  children: (props: { id: string; "aria-describedby"?: string; "aria-invalid"?: boolean }) => ReactNode;
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const described = [hint ? hintId : null, error ? errorId : null].filter(Boolean).join(" ");
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className="text-sm font-medium text-slate-200">
        {label}
      </label>
      {children({
        id,
        ...(described ? { "aria-describedby": described } : {}),
        ...(error ? { "aria-invalid": true } : {}),
      })}
      {hint ? (
        <p id={hintId} className="text-xs text-slate-400">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={errorId} className="text-sm text-red-300">
          {error}
        </p>
      ) : null}
    </div>
  );
}

export function TextInput({
  label,
  hint,
  error,
  ...rest
}: InputHTMLAttributes<HTMLInputElement> & { label: string; hint?: ReactNode; error?: string | null }) {
  return (
    <Field label={label} hint={hint} error={error ?? null}>
      {(props) => <input {...rest} {...props} className={inputClass} />}
    </Field>
  );
}

export function TextArea({
  label,
  hint,
  ...rest
}: TextareaHTMLAttributes<HTMLTextAreaElement> & { label: string; hint?: ReactNode }) {
  return (
    <Field label={label} hint={hint}>
      {(props) => <textarea {...rest} {...props} className={inputClass} />}
    </Field>
  );
}

export function Select({
  label,
  children,
  ...rest
}: SelectHTMLAttributes<HTMLSelectElement> & { label: string }) {
  return (
    <Field label={label}>
      {(props) => (
        <select {...rest} {...props} className={inputClass}>
          {children}
        </select>
      )}
    </Field>
  );
}

export function Spinner({ label }: { label?: string }) {
  return (
    <span className="inline-flex items-center gap-2" role={label ? "status" : undefined}>
      <span
        aria-hidden="true"
        className="h-4 w-4 animate-spin rounded-full border-2 border-current border-t-transparent"
      />
      {label ? <span>{label}</span> : null}
    </span>
  );
}

export function Card({ children, className = "" }: { children: ReactNode; className?: string }) {
  return (
    <section className={`rounded-xl border border-slate-800 bg-slate-900 p-4 ${className}`}>
      {children}
    </section>
  );
}

export function PageHeader({ title, actions }: { title: string; actions?: ReactNode }) {
  return (
    <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
      <h1 className="text-2xl font-semibold tracking-tight">{title}</h1>
      {actions ? <div className="flex flex-wrap gap-2">{actions}</div> : null}
    </div>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const text =
    error instanceof ApiError || error instanceof Error ? error.message : "Something went wrong.";
  const suggestions = error instanceof ApiError ? (error.problem.suggestions ?? []) : [];
  return (
    <div role="alert" className="rounded-md border border-red-500/60 bg-red-950/60 p-3 text-sm text-red-100">
      <p>{text}</p>
      {suggestions.length ? (
        <ul className="mt-1 list-disc pl-5 text-red-200">
          {suggestions.map((item) => (
            <li key={item}>{item}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function Loading() {
  return (
    <div className="p-6 text-slate-300">
      <Spinner label="Loading…" />
    </div>
  );
}

const statusTones: Record<string, string> = {
  online: "bg-emerald-500/15 text-emerald-300 ring-emerald-500/40",
  connecting: "bg-sky-500/15 text-sky-300 ring-sky-500/40",
  offline: "bg-red-500/15 text-red-300 ring-red-500/40",
  error: "bg-red-500/15 text-red-300 ring-red-500/40",
  unknown: "bg-slate-500/15 text-slate-300 ring-slate-500/40",
  active: "bg-emerald-500/15 text-emerald-300 ring-emerald-500/40",
  paused: "bg-amber-500/15 text-amber-200 ring-amber-500/40",
  invalid: "bg-red-500/15 text-red-300 ring-red-500/40",
  new: "bg-sky-500/15 text-sky-300 ring-sky-500/40",
  seen: "bg-slate-500/15 text-slate-300 ring-slate-500/40",
  confirmed: "bg-amber-500/15 text-amber-200 ring-amber-500/40",
  false_alarm: "bg-slate-500/15 text-slate-300 ring-slate-500/40",
  resolved: "bg-emerald-500/15 text-emerald-300 ring-emerald-500/40",
};

export function Badge({ value }: { value: string }) {
  return (
    <span
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${statusTones[value] ?? statusTones.unknown}`}
    >
      {value.replace("_", " ")}
    </span>
  );
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}
