/**
 * Early requests for /analytics. The page is static and its dashboard renders only once React
 * has hydrated (hundreds of ms after the HTML on a loaded machine). A small inline script in
 * the page's HTML starts the first requests while the scripts still load: the summary (the
 * KPI cards), the trend history, the iterations list and the chosen (or, once the summary
 * names it, the latest) window's panel, with the exact paths the client will ask for. The client's `request` takes each early answer once
 * (lib/api.ts); any later request (a poll, a retry) goes to the network as usual.
 *
 * No "use client": the server page renders the script from here.
 */

/** Every key the trend charts plot, plus the two x-axes (components/TrendCharts.tsx TRENDS). */
export const TREND_KEYS = [
  "env_steps",
  "wall_time_s",
  "eval/return_mean",
  "train/return_mean",
  "eval/profit_mean",
  "train/profit_mean",
  "eval/survival_rate",
  "train/survival_rate",
  "eval/invalid_action_rate",
  "train/invalid_action_rate",
  "sps",
];
/** Runs listed in the runs table (the picker shows the newest 10 of them). */
export const RUNS_LIMIT = 50;
export const HISTORY_POINTS = 1000;
export const ITERATIONS_LIMIT = 10;

const enc = encodeURIComponent;

/** The service's paths (docs/API.md), shared by the client and the early script. */
export const apiPaths = {
  health: () => "/api/health",
  runs: (source: string, limit = 10, group?: string) => `/api/${source}/runs?limit=${limit}${group ? `&group=${enc(group)}` : ""}`,
  summary: (source: string, runId: string) => `/api/${source}/runs/${enc(runId)}/summary`,
  history: (source: string, runId: string, maxPoints = 1000, keys?: string[]) =>
    `/api/${source}/runs/${enc(runId)}/history?max_points=${maxPoints}${keys ? `&keys=${keys.map(enc).join(",")}` : ""}`,
  iterations: (source: string, runId: string, limit = 10) => `/api/${source}/runs/${enc(runId)}/iterations?limit=${limit}`,
  iteration: (source: string, runId: string, windowId: number) => `/api/${source}/runs/${enc(runId)}/iterations/${windowId}`,
};

const STORE = "__caravanEarly";

type EarlyStore = Record<string, Promise<Response> | undefined>;

/** The early answer for `url`, taken once (null when there is none). */
export function takeEarly(url: string): Promise<Response> | null {
  if (typeof window === "undefined") return null;
  const store = (window as unknown as Record<string, EarlyStore | undefined>)[STORE];
  const p = store?.[url];
  if (!p) return null;
  delete store[url];
  return p;
}

/**
 * Drops every early answer not taken yet. Called when the page's run changes: an answer the
 * first run's requests left unused would be stale by the time another view asks its URL.
 */
export function dropEarly(): void {
  if (typeof window === "undefined") return;
  const w = window as unknown as Record<string, EarlyStore | undefined>;
  if (w[STORE]) w[STORE] = {};
}

/**
 * The inline script's source. It reads the page's URL as lib/urlState.ts does (`source` local
 * or wandb, else the service's default; `run` when not empty, else the newest; `iteration` when
 * digits, else the latest)
 * and never throws: whatever it cannot start, the client asks for itself.
 */
export function earlyScript(base: string): string {
  const cfg = JSON.stringify({ base, store: STORE, keys: TREND_KEYS, runs: RUNS_LIMIT, points: HISTORY_POINTS, its: ITERATIONS_LIMIT });
  return `(function(c){try{
var E=window[c.store]={},q=new URLSearchParams(location.search),e=encodeURIComponent;
function get(p){var r=fetch(c.base+p,{headers:{Accept:"application/json"},cache:"no-store"});E[c.base+p]=r;r.catch(function(){});return r;}
function json(r){return r.then(function(x){return x.ok?x.clone().json():null;}).catch(function(){return null;});}
var s=q.get("source");if(s!=="local"&&s!=="wandb")s=null;
var run=q.get("run");var it=q.get("iteration");it=it!==null&&/^\\d{1,15}$/.test(it)?Number(it):null;
var h=get("/api/health");
var src=s?Promise.resolve(s):json(h).then(function(b){return b&&b.default_source;});
src.then(function(s){if(!s)return;
var runs=get("/api/"+s+"/runs?limit="+c.runs);
var id=run?Promise.resolve(run):json(runs).then(function(b){return b&&b.runs&&b.runs[0]&&b.runs[0].run_id;});
id.then(function(id){if(!id)return;var R="/api/"+s+"/runs/"+e(id);
var sm=get(R+"/summary");
get(R+"/iterations?limit="+c.its);
get(R+"/history?max_points="+c.points+"&keys="+c.keys.map(e).join(","));
if(it!==null)get(R+"/iterations/"+it);
else json(sm).then(function(sum){var w=sum&&sum.kpis?sum.kpis.window_id:null;if(typeof w==="number")get(R+"/iterations/"+w);});});});
}catch(x){}})(${cfg});`;
}
