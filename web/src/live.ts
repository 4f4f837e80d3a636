// Live data for the screens. Until the API has its event stream, a screen's data is
// fetched again every POLL_MS while the page is visible; this module is the only place
// that knows, so moving to the stream changes nothing else.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { problemOf, type Problem } from "./api/client";

export const POLL_MS = 1000;

type Answer<T> = { data?: T; error?: unknown; response: Response };

export function useLive<T>(load: () => Promise<Answer<T>>, deps: unknown[] = [],
                           options: { live?: boolean } = {}) {
  const live = options.live ?? true;
  const [data, setData] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<Problem | null>(null);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(async () => {
    try {
      const { data: value, error, response } = await loadRef.current();
      if (value !== undefined) {
        setData(value);
        setProblem(null);
      } else setProblem(problemOf(error, response.status));
    } catch {
      setProblem(problemOf(undefined));
    }
  }, []);
  useEffect(() => {
    setData(undefined);
    void reload();
    if (!live) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === "visible") void reload();
    }, POLL_MS);
    return () => window.clearInterval(timer);
  }, deps);
  return { data, problem, reload };
}
