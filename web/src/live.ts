// Live updates: one follower of the account's event log per tab (GET /v1/events with the
// `after` cursor and a 25 s long poll, through the generated client: EventSource cannot
// send our Authorization header), shared by every screen that subscribes. A screen names
// the events it cares about (names or patterns, as webhooks take them) and, optionally, a
// device; the follower asks the API for the union of what its subscribers want, so an idle
// tab costs one request every 25 s, and an event reaches the screen as soon as it is logged.
//
//   const stop = subscribe({ types: ["message:in:new"], device, onEvent: (e) => …,
//                            onResync: () => reloadEverything() });
//   const { data, reload } = useLive(load, deps, { events: ["device:status"], device });
//
// The server is the state: useLive loads through the client and loads again when a
// matching event comes. `onResync` is called when events may have been missed (the
// follower started afresh): reload from the API then.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, problemOf, type Problem, type Schemas } from "./api/client";

export type LiveEvent = Schemas["EventOut"];

export interface Subscription {
  /** Event names or patterns: "device:status", "message:out:*", "*". */
  types: string[];
  /** Only this device's events. */
  device?: string | null;
  onEvent: (event: LiveEvent) => void;
  /** Events may have been missed (the follower started from "now"): load again. */
  onResync?: () => void;
  /** Keep following while the tab is hidden (default: pause, then resume from the cursor). */
  background?: boolean;
}

export const WAIT_S = 25; // the API's longest long poll
const IDLE_STOP_MS = 30_000; // the follower stops this long after its last subscriber leaves
const RETRY_MS = [1000, 2000, 5000, 10_000, 30_000]; // after an error, then the last again

export function matches(pattern: string, name: string): boolean {
  return pattern === "*" || pattern === name || (pattern.endsWith(":*") && name.startsWith(pattern.slice(0, -1)));
}

function wants(sub: Subscription, event: LiveEvent): boolean {
  return (!sub.device || event.device === sub.device) && sub.types.some((t) => matches(t, event.event));
}

const subscribers = new Set<Subscription>();
let cursor: string | null = null;
let loop = 0; // the running follower's number; 0: none
let current: AbortController | null = null; // the request in flight, aborted when the filter changes
let idleTimer: number | undefined;
let wake: (() => void) | null = null;

/** Follow the events `sub` names; returns the function that stops it. */
export function subscribe(sub: Subscription): () => void {
  subscribers.add(sub);
  window.clearTimeout(idleTimer);
  refilter();
  return () => {
    subscribers.delete(sub);
    if (subscribers.size === 0) idleTimer = window.setTimeout(stop, IDLE_STOP_MS);
    else refilter();
  };
}

/** The query the follower sends: the union of its subscribers' types, their one device. */
export function filterOf(subs: Iterable<Subscription>): { type?: string; device?: string } {
  const list = [...subs];
  const types = new Set(list.flatMap((s) => s.types));
  const devices = new Set(list.map((s) => s.device ?? null));
  const out: { type?: string; device?: string } = {};
  if (!types.has("*") && types.size > 0) out.type = [...types].sort().join(",");
  if (devices.size === 1 && !devices.has(null)) out.device = [...devices][0] as string;
  return out;
}

let filterKey = "";

function refilter() {
  const key = JSON.stringify(filterOf(subscribers));
  if (loop && key !== filterKey) current?.abort(); // ask again with the new filter, same cursor
  if (!loop) void follow();
  wake?.();
}

function stop() {
  if (subscribers.size > 0) return;
  loop = 0;
  cursor = null; // a later start begins at "now" and resyncs its subscribers
  current?.abort();
  wake?.();
}

function visible(): boolean {
  return document.visibilityState === "visible" || [...subscribers].some((s) => s.background);
}

function pause(ms: number | null): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      window.clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
      wake = null;
      resolve();
    };
    const onVisible = () => { if (visible()) done(); };
    const timer = ms === null ? undefined : window.setTimeout(done, ms);
    document.addEventListener("visibilitychange", onVisible);
    wake = done;
  });
}

let loops = 0;

async function follow() {
  const me = (loop = ++loops);
  let failures = 0;
  while (loop === me && subscribers.size > 0) {
    if (!visible()) {
      await pause(null); // hidden: no requests; the cursor keeps what happens meanwhile
      continue;
    }
    const filter = filterOf(subscribers);
    filterKey = JSON.stringify(filter);
    const fresh = cursor === null;
    const controller = new AbortController();
    current = controller;
    try {
      const { data, response } = await api.GET("/v1/events", {
        params: { query: { after: cursor ?? "now", wait: fresh ? 0 : WAIT_S, limit: 100, ...filter } },
        signal: controller.signal,
      });
      if (!data) {
        if (response.status === 422) cursor = null; // a cursor the API no longer takes: start afresh
        throw new Error(`events: ${response.status}`);
      }
      failures = 0;
      cursor = data.next_cursor ?? cursor;
      if (loop !== me) break;
      if (fresh) subscribers.forEach((s) => s.onResync?.());
      for (const event of data.data) {
        for (const sub of [...subscribers]) if (wants(sub, event)) sub.onEvent(event);
      }
    } catch {
      if (controller.signal.aborted) continue; // the filter changed, or stop()
      await pause(RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]); // offline, 401 until the token is fresh, 5xx
    } finally {
      if (current === controller) current = null;
    }
  }
  if (loop === me) loop = 0;
}

/** Call `onEvent` for each event of `types` (of `device`, when given) while mounted. */
export function useEvents(types: string[], onEvent: (event: LiveEvent) => void,
                          options: { device?: string | null; onResync?: () => void; background?: boolean } = {}) {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const resync = useRef(options.onResync);
  resync.current = options.onResync;
  const key = types.join(",");
  useEffect(() => subscribe({
    types, device: options.device, background: options.background,
    onEvent: (e) => handler.current(e), onResync: () => resync.current?.(),
  }), [key, options.device ?? null, options.background ?? false]);
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

export interface LiveOptions {
  /** Load again when one of these events comes (default: any event of the account). */
  events?: string[];
  /** Only events of this device. */
  device?: string | null;
  /** Only events this accepts (for example, of one message). */
  match?: (event: LiveEvent) => boolean;
  /** false: load once (and on reload()), no live updates. */
  live?: boolean;
  /** Also load again every `every` ms while the tab is visible, for data that has no event. */
  every?: number;
}

/** Data from the API, loaded again when a matching event is logged (coalesced: at most one
 * load in flight and one queued behind it). */
export function useLive<T>(load: () => Promise<Answer<T>>, deps: unknown[] = [], options: LiveOptions = {}) {
  const live = options.live ?? true;
  const [data, setData] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<Problem | null>(null);
  const loadRef = useRef(load);
  loadRef.current = load;
  const matchRef = useRef(options.match);
  matchRef.current = options.match;
  const state = useRef({ busy: false, again: false, generation: 0 }); // one object, mutated
  const reload = useCallback(async () => {
    const s = state.current;
    if (s.busy) {
      s.again = true;
      return;
    }
    s.busy = true;
    const generation = s.generation;
    try {
      do {
        s.again = false;
        try {
          const { data: value, error, response } = await loadRef.current();
          if (generation !== s.generation) return; // the deps changed meanwhile
          if (value !== undefined) {
            setData(value);
            setProblem(null);
          } else setProblem(problemOf(error, response.status));
        } catch {
          if (generation === s.generation) setProblem(problemOf(undefined));
        }
      } while (s.again);
    } finally {
      if (generation === s.generation) s.busy = false;
    }
  }, []);
  useEffect(() => {
    Object.assign(state.current, { busy: false, again: false, generation: state.current.generation + 1 });
    setData(undefined);
    void reload();
    const unsubscribe = live ? subscribe({
      types: options.events ?? ["*"], device: options.device,
      onEvent: (event) => { if (!matchRef.current || matchRef.current(event)) void reload(); },
      onResync: () => void reload(),
    }) : () => undefined;
    const timer = options.every ? window.setInterval(() => {
      if (document.visibilityState === "visible") void reload();
    }, options.every) : undefined;
    return () => {
      unsubscribe();
      window.clearInterval(timer);
    };
  }, [...deps, live, (options.events ?? ["*"]).join(","), options.device ?? null, options.every ?? 0]);
  return { data, problem, reload };
}
