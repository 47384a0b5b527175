// Short notices in a polite live region (screen readers announce them).
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";

interface Toast {
  id: number;
  text: string;
  tone: "info" | "error" | "catch";
  to?: string;
}
interface ToastApi {
  show: (text: string, tone?: Toast["tone"], to?: string) => void;
}

const ToastContext = createContext<ToastApi>({ show: () => {} });
let next = 1;

/** Toasts for the whole app. It sits outside the router (auth and the router need it), so a
 * toast's link navigates through ``navigate`` instead of a router ``<Link>``. */
export function ToastProvider({
  children,
  navigate,
}: {
  children: ReactNode;
  navigate: (to: string) => void;
}) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const dismiss = useCallback((id: number) => {
    setToasts((all) => all.filter((toast) => toast.id !== id));
  }, []);
  const show = useCallback(
    (text: string, tone: Toast["tone"] = "info", to?: string) => {
      const id = next++;
      setToasts((all) => [...all.slice(-3), { id, text, tone, ...(to ? { to } : {}) }]);
      window.setTimeout(() => dismiss(id), 6000);
    },
    [dismiss],
  );
  const value = useMemo(() => ({ show }), [show]);
  const tones = {
    info: "border-slate-600 bg-slate-800",
    error: "border-red-500 bg-red-950",
    catch: "border-amber-400 bg-amber-950",
  };
  return (
    <ToastContext.Provider value={value}>
      {children}
      <div
        role="status"
        aria-live="polite"
        className="pointer-events-none fixed inset-x-0 bottom-20 z-50 flex flex-col items-center gap-2 px-4 md:bottom-4 md:items-end"
      >
        {toasts.map((toast) => (
          <div
            key={toast.id}
            data-testid="toast"
            className={`pointer-events-auto flex max-w-sm items-center gap-3 rounded-lg border px-4 py-3 text-sm shadow-lg ${tones[toast.tone]}`}
          >
            {toast.to ? (
              <a
                href={toast.to}
                onClick={(click) => {
                  if (click.button !== 0 || click.metaKey || click.ctrlKey || click.shiftKey) return;
                  click.preventDefault();
                  dismiss(toast.id);
                  navigate(toast.to ?? "/");
                }}
                className="underline-offset-2 hover:underline"
              >
                {toast.text}
              </a>
            ) : (
              <span>{toast.text}</span>
            )}
            <button
              type="button"
              onClick={() => dismiss(toast.id)}
              className="rounded px-1 text-slate-300 hover:text-white"
              aria-label="Dismiss"
            >
              ×
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

export function useToast(): ToastApi {
  return useContext(ToastContext);
}
