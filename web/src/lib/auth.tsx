// Who is signed in. On start the app tries the refresh cookie once (a reload keeps the
// session without ever storing the access token); sign-in and sign-up ask for the cookie.
import { useQueryClient } from "@tanstack/react-query";
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  type ReactNode,
} from "react";
import {
  api,
  onSessionEnded,
  refreshSession,
  setAccessToken,
  unwrap,
  type Schemas,
} from "../api/client";

export type User = Schemas["UserOut"];
type Pair = Schemas["TokenPair"] | Schemas["MfaTokenPair"];

interface AuthState {
  /** "offline": a session may exist, but the API could not be reached to resume it. */
  status: "loading" | "signed-out" | "signed-in" | "offline";
  user: User | null;
  /** Take a token pair from sign-in, sign-up or MFA. */
  accept: (pair: Pair) => void;
  setUser: (user: User) => void;
  signOut: () => Promise<void>;
  /** Forget the session here only, when the server already ended it (account erased). */
  forget: () => void;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<AuthState["status"]>("loading");
  const [user, setUser] = useState<User | null>(null);
  const queries = useQueryClient();

  const ended = useCallback(() => {
    setAccessToken(null);
    setUser(null);
    setStatus("signed-out");
    queries.clear();
  }, [queries]);

  useEffect(() => {
    onSessionEnded(ended);
    let live = true;
    let retry = 0;
    const resume = () => {
      refreshSession()
        .then((pair) => {
          if (!live) return;
          if (pair) {
            setUser(pair.user);
            setStatus("signed-in");
          } else setStatus("signed-out");
        })
        .catch(() => {
          // The API is unreachable: keep trying, and say so meanwhile.
          if (!live) return;
          setStatus("offline");
          retry = window.setTimeout(resume, 5000);
        });
    };
    const again = () => {
      window.clearTimeout(retry);
      resume();
    };
    window.addEventListener("online", again);
    resume();
    return () => {
      live = false;
      window.clearTimeout(retry);
      window.removeEventListener("online", again);
    };
  }, [ended]);

  const accept = useCallback((pair: Pair) => {
    setAccessToken(pair.access_token);
    setUser(pair.user);
    setStatus("signed-in");
  }, []);

  const signOut = useCallback(async () => {
    try {
      await unwrap(api.POST("/api/v1/auth/logout"));
    } catch {
      /* signed out here either way */
    }
    ended();
  }, [ended]);

  const value = useMemo(
    () => ({ status, user, accept, setUser, signOut, forget: ended }),
    [status, user, accept, signOut, ended],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside AuthProvider");
  return state;
}
