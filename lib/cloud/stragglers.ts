/**
 * Stragglers: backup tasks at the tail of a job, within its maxWorkers cap.
 *
 * A job's slices run in `maxWorkers` (K) worker chains: the worker whose create-only
 * commit of slice i's leaf wins invokes slice i + K (afterLeaf, advance.ts), so a chain's
 * slot passes from slice to slice. When a worker's slice
 * has no next one in its chain, its slot is free. Instead of ending, that worker becomes
 * a tail helper (helpAtTail) and, until every slice has its leaf, does what shortens
 * the job most, in this order:
 *
 *  1. **Backs up a straggler**: a running slice that has run SLOW_FACTOR times the usual
 *     slice time (the helper's own slices' median: peers of the same size) is scanned
 *     again, as Cubed's backup tasks and MapReduce's do; the first create-only commit of
 *     its leaf wins, and both say the same (runSlice checks). Only the winner merges the
 *     leaf's group and continues the chain (the loser finds the leaf another invocation
 *     wrote: worker.ts), so a chain is never continued twice.
 *  2. **Splits a chain**: slices queued behind a running one (a straggler holds up the
 *     rest of its chain) start only when it lands. The helper takes one near the end of
 *     the longest such queue (so the chain does not reach it before it lands) and runs
 *     it; it then invokes the rest of the chain from there itself (afterLeaf), and the
 *     front part stops when it reaches it (its worker finds a leaf it did not write).
 *  3. **Watches** the longest-running slice nobody watches, with one HEAD every half
 *     slice time, until it lands or straggles.
 *
 * Claims (jobs/<id>/tail/<run>/, one set per run of the job: a redrive starts afresh) are
 * created create-only, so two helpers never take the same slice, and the status counts
 * the backups. A helper whose run wins and invokes a next slice ends there (its slot
 * passed to that slice), so the job's scans stay within maxWorkers: a helper is a slot
 * whose chain ended, and it runs one slice at a time. A helper whose backup loses keeps
 * its slot (the original's worker passed its own on) and goes on helping.
 *
 * A helper's leaves record its invocation, as its own slice's does: a retry of a helper
 * that crashed between a leaf's commit and what follows it finishes that (resumeTail).
 */
import { type CloudManifest, decodePartial, decodeTailClaim, encodeTailClaim, readStatus } from '../job/documents.ts';
import { levelPrefix, nodeKey, parseNodeKey, parseTailClaim, type TailClaim, tailClaimKey, tailPrefix, tailRunPrefix } from '../job/keys.ts';
import { afterLeaf, leafInvocation } from './advance.ts';
import type { BlobStore, SliceTask } from '../job/ports.ts';
import { scanSliceTask, type SliceOutcome, type WorkerDeps } from './worker.ts';

/** A slice is a straggler once it has run this many times the usual slice time (Spark speculates at 1.5, Cubed at 3). */
export const SLOW_FACTOR = 2;
/** A helper stops taking work when less than this is left of its invocation, beyond two slice times. */
const MARGIN_MS = 5_000;
/** The shortest pause between two looks at a watched slice. */
const MIN_POLL_MS = 50;
/** Running slices a helper times per look (the furthest behind in their chains). */
const CANDIDATES = 4;
/** A helper starts once this share of the slices has landed: a slice's usual time is known by then. */
const MIN_DONE_FRACTION = 0.5;

export interface TailDeps extends WorkerDeps {
  /** waits (a test's virtual clock); setTimeout by default */
  sleep?: (ms: number) => Promise<void>;
}

export interface TailOptions {
  /** how long this worker's own slice took: the usual slice time, until it has run more */
  sliceMs: number;
  /** ms left before the invocation must end (Lambda's remaining time) */
  remainingMs?: () => number;
  signal?: AbortSignal;
  worker?: string;
  /** this invocation's id (Lambda's request id): recorded in the leaves the helper commits */
  invocation?: string;
}

export interface TailOutcome {
  backups: number[];
  splits: number[];
  watched: number[];
}

/** A running slice of a chain and the slices queued behind it (no worker starts them before it lands). */
export interface Segment {
  head: number;
  queue: number[];
}

/**
 * What is left of a job's chains: a missing slice is running when it heads its chain
 * (index < K), when the slice before it in its chain has landed (that landing invoked it),
 * or when a helper split the chain there; the missing slices behind it wait.
 */
export function tailSegments(slices: number, maxWorkers: number, present: ReadonlySet<number>, splits: ReadonlySet<number>): Segment[] {
  const running = (i: number): boolean => i < maxWorkers || present.has(i - maxWorkers) || splits.has(i);
  const segments: Segment[] = [];
  for (let i = 0; i < slices; i++) {
    if (present.has(i) || !running(i)) continue;
    const queue: number[] = [];
    for (let j = i + maxWorkers; j < slices && !present.has(j) && !running(j); j += maxWorkers) queue.push(j);
    segments.push({ head: i, queue });
  }
  return segments;
}

/**
 * Where a helper splits a segment, or undefined: its fair share of it, length / (free + 1)
 * rounded half down (at least one slice), goes to the helper from its end, so that the
 * free slots and the segment's own worker share it (a tie leaves the larger part to the
 * front, whose head is under way). The split point
 * must lie at least two slices behind the head, so that the front part does not reach it
 * before it lands (the head may land any moment, and the next slice then takes as long as
 * the helper's).
 */
export function splitPoint(segment: Segment, free: number): number | undefined {
  const length = 1 + segment.queue.length;
  const take = Math.max(1, Math.ceil(length / (free + 1) - 0.5));
  const at = length - take;
  return at < 2 ? undefined : segment.queue[at - 1];
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

async function leavesPresent(store: BlobStore, jobId: string): Promise<Set<number>> {
  const present = new Set<number>();
  for (const k of await store.list(levelPrefix(jobId, 0))) {
    const ref = parseNodeKey(k);
    if (ref?.level === 0) present.add(ref.index);
  }
  return present;
}

async function tailClaims(store: BlobStore, jobId: string, run: number): Promise<Record<TailClaim, Set<number>>> {
  const claims: Record<TailClaim, Set<number>> = { backup: new Set(), split: new Set(), watch: new Set() };
  for (const k of await store.list(tailRunPrefix(jobId, run))) {
    const c = parseTailClaim(k);
    if (c) claims[c.claim].add(c.index);
  }
  return claims;
}

const claim = (store: BlobStore, jobId: string, run: number, kind: TailClaim, index: number, at: number): Promise<boolean> => store.putIfAbsent(tailClaimKey(jobId, run, kind, index), encodeTailClaim({ at }));

/**
 * A tail helper: see the module comment. Runs only when `task`'s slice was the last of
 * its chain; returns when every slice has landed, the job is no longer running, nothing
 * is left that it could take, or its run's landing passed its slot on.
 */
export async function helpAtTail(deps: TailDeps, task: SliceTask, opts: TailOptions): Promise<TailOutcome> {
  const out: TailOutcome = { backups: [], splits: [], watched: [] };
  const manifest = await deps.manifests.read(task.jobId);
  const { spec } = manifest;
  const slices = spec.sliceCount;
  const chains = manifest.maxWorkers ?? slices;
  if (task.index + chains < slices) return out;
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const times = [Math.max(1, opts.sliceMs)];
  const usual = (): number => median(times);
  const timeLeft = (): number => opts.remainingMs?.() ?? Number.POSITIVE_INFINITY;
  const starts = new Map<number, number>();
  const run = async (index: number): Promise<SliceOutcome> => {
    const t0 = now();
    const r = await scanSliceTask(deps, { jobId: spec.id, index }, { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.worker ? { worker: opts.worker } : {}), ...(opts.invocation ? { invocation: opts.invocation } : {}) });
    if (r.outcome === 'written') times.push(Math.max(1, now() - t0));
    return r;
  };

  for (let round = 0; round < 4 * slices + 16; round++) {
    if (opts.signal?.aborted || timeLeft() < 2 * usual() + MARGIN_MS) return out;
    const present = await leavesPresent(deps.store, spec.id);
    // Too early to tell a straggler (Cubed's min_completed_fraction): the workers that finish later help.
    if (present.size >= slices || present.size < MIN_DONE_FRACTION * slices) return out;
    const status = await readStatus(deps.store, spec.id);
    if (status?.state !== 'running' || (status.deadline && now() > Date.parse(status.deadline))) return out;
    // No slice of this run of the job started before its (re)start wrote the running status.
    const since = Date.parse(status.at);
    const claims = await tailClaims(deps.store, spec.id, since);
    const segments = tailSegments(slices, chains, present, claims.split);
    const startOf = async (head: number): Promise<number> => {
      let start = starts.get(head);
      if (start === undefined) start = Math.max(since, await startedAt(deps.store, manifest, since, head, claims.split.has(head), present));
      starts.set(head, start);
      return start;
    };
    // A helper's run passes its slot on when its commit won (a loser's 'exists': the winner
    // continues the chain) and the next slice of its chain was still to run at this look.
    const passesOn = (r: SliceOutcome, index: number): boolean => r.outcome === 'failed' || (r.outcome === 'written' && index + chains < slices && !present.has(index + chains));

    // 1. The longest-running slice without a backup, if it straggles. A straggler holds its
    // chain back, so the running slices furthest behind in their chains are the ones to
    // time (each costs a read of the partial before it): a few per look.
    const unbacked = segments
      .filter((s) => !claims.backup.has(s.head))
      .sort((a, b) => Math.floor(a.head / chains) - Math.floor(b.head / chains) || a.head - b.head)
      .slice(0, CANDIDATES);
    let slowest: Segment | undefined;
    let slowestStart = Number.POSITIVE_INFINITY;
    for (const s of unbacked) {
      const start = await startOf(s.head);
      if (start < slowestStart) [slowest, slowestStart] = [s, start];
    }
    if (slowest && now() - slowestStart >= SLOW_FACTOR * usual()) {
      if (await claim(deps.store, spec.id, since, 'backup', slowest.head, now())) {
        out.backups.push(slowest.head);
        const r = await run(slowest.head);
        if (passesOn(r, slowest.head)) return out;
      }
      continue;
    }

    // 2. Split the longest queue among the free slots: this one, and those of slices with
    // nothing queued behind them (they become helpers when they land).
    const busy = segments.filter((s) => s.queue.length > 0).length + [...claims.backup].filter((i) => !present.has(i)).length;
    const free = Math.max(1, chains - busy);
    let split: number | undefined;
    for (const s of [...segments].sort((a, b) => b.queue.length - a.queue.length || a.head - b.head)) {
      split = splitPoint(s, free);
      if (split !== undefined && !claims.split.has(split)) break;
      split = undefined;
    }
    if (split !== undefined) {
      if (await claim(deps.store, spec.id, since, 'split', split, now())) {
        out.splits.push(split);
        const r = await run(split);
        if (passesOn(r, split)) return out;
      }
      continue;
    }

    // 3. Watch the longest-running slice nobody watches, until it lands or straggles.
    const watchable = unbacked.filter((s) => !claims.watch.has(s.head));
    if (watchable.length === 0) return out;
    let watched = watchable[0]!;
    for (const s of watchable) if ((await startOf(s.head)) < (await startOf(watched.head))) watched = s;
    if (!(await claim(deps.store, spec.id, since, 'watch', watched.head, now()))) continue;
    out.watched.push(watched.head);
    const until = (await startOf(watched.head)) + SLOW_FACTOR * usual();
    const leaf = nodeKey(spec.id, 0, watched.head, manifest.fanin);
    for (;;) {
      if (opts.signal?.aborted || timeLeft() < 2 * usual() + MARGIN_MS) return out;
      await sleep(Math.max(1, Math.min(Math.max(usual() / 2, MIN_POLL_MS), until - now())));
      if ((await deps.store.head(leaf)) || now() >= until) break;
    }
  }
  return out;
}

/**
 * When a running slice started, at the latest: when the slice before it in its chain
 * landed (that landing invoked it), when a helper split the chain there, or, for the
 * head of a chain, when the job started (the caller takes the later of this and the job's
 * last start).
 */
async function startedAt(store: BlobStore, manifest: CloudManifest, run: number, head: number, split: boolean, present: ReadonlySet<number>): Promise<number> {
  const { spec, fanin } = manifest;
  const chains = manifest.maxWorkers ?? spec.sliceCount;
  if (split) {
    const key = tailClaimKey(spec.id, run, 'split', head);
    const body = await store.get(key);
    if (body) return decodeTailClaim(body, key).at;
  }
  if (head >= chains && present.has(head - chains)) {
    const key = nodeKey(spec.id, 0, head - chains, fanin);
    const body = await store.get(key);
    if (body) return decodePartial(body, key).run.finishedAt;
  }
  return manifest.createdAt;
}

/**
 * A worker invocation: scans its slice and, when its chain ends there, helps at the job's
 * tail. The Lambda handler and `fanout dev` run this.
 */
export async function runWorkerTask(
  deps: TailDeps,
  task: SliceTask,
  options: { signal?: AbortSignal; worker?: string; coldStart?: boolean; remainingMs?: () => number; invocation?: string } = {},
): Promise<SliceOutcome & { tail?: TailOutcome; resumedTail?: number[] }> {
  const now = deps.now ?? Date.now;
  const t0 = now();
  const { remainingMs, ...scanOptions } = options;
  const r = await scanSliceTask(deps, task, scanOptions);
  // A retry of this invocation: it may have crashed while helping, after a leaf's commit.
  if (r.outcome === 'exists' && r.resumed && options.invocation !== undefined) {
    const resumedTail = await resumeTail(deps, task.jobId, options.invocation);
    return resumedTail.length > 0 ? { ...r, resumedTail } : r;
  }
  if (r.outcome !== 'written') return r;
  const tail = await helpAtTail(deps, task, {
    sliceMs: now() - t0,
    ...(remainingMs ? { remainingMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.worker ? { worker: options.worker } : {}),
    ...(options.invocation ? { invocation: options.invocation } : {}),
  });
  return tail.backups.length + tail.splits.length + tail.watched.length > 0 ? { ...r, tail } : r;
}

/**
 * A retried helper finishes what follows the commit of each leaf it committed as a backup
 * or a split (the leaf records its invocation): its group's merge and the next slice of
 * its chain, which a crash between the two would otherwise lose (the losing run and the
 * front part of a split chain found the leaf and did nothing). One list of the job's tail
 * claims and one read a claimed slice. Returns the slices resumed.
 */
export async function resumeTail(deps: WorkerDeps, jobId: string, invocation: string): Promise<number[]> {
  const manifest = await deps.manifests.read(jobId);
  const claimed = new Set<number>();
  for (const k of await deps.store.list(tailPrefix(jobId))) {
    const c = parseTailClaim(k);
    if (c && c.claim !== 'watch') claimed.add(c.index);
  }
  const resumed: number[] = [];
  for (const index of [...claimed].sort((a, b) => a - b)) {
    const key = nodeKey(jobId, 0, index, manifest.fanin);
    const body = await deps.store.get(key);
    if (!body || leafInvocation(decodePartial(body, key)) !== invocation) continue;
    await afterLeaf(deps, manifest, index);
    resumed.push(index);
  }
  return resumed;
}
