/**
 * Two uploads of one key, and every interleaving of their coordinators and mergers that
 * holding one (or two) of them at each step in turn produces: the newer upload's job
 * must own the input pointer and results/<key>.json at the end, every time, and neither
 * may ever go back to the older job once the newer one held it.
 *
 * A deterministic scheduler runs the functions as actors over the in-memory fakes: every
 * store call and every input read is a step, and an actor runs one step only when the
 * scheduler lets it. The upload of the second version is an actor too (one step), so
 * it lands at every point of the first job's life. Workers are invoked through the
 * scheduler, and every partial's creation starts a merger actor, as S3 events do.
 */
import { describe, expect, it } from 'vitest';
import { startJob } from '../../lib/cloud/coordinator.ts';
import type { InputObjects, InputPin, PinnedInput } from '../../lib/cloud/inputs.ts';
import { onNodeCreated } from '../../lib/cloud/merger.ts';
import { routeFor } from '../../lib/cloud/topology.ts';
import { scanSliceTask } from '../../lib/cloud/worker.ts';
import { ManifestReader } from '../../lib/job/documents.ts';
import { inputPointerKey, jobOfKey, resultKeyForInput, statusKey } from '../../lib/job/keys.ts';
import type { BlobInfo, BlobStore, Invoker } from '../../lib/job/ports.ts';
import { CountingStore } from '../cloud/fakes.ts';
import { BUCKET, VersionedInputs } from './harness.ts';

const KEY = 'input/x.csv';
const V1 = new TextEncoder().encode('1\n2\n3\n');
const V2 = new TextEncoder().encode('10\n20\n');
const SUM2 = 30;

interface Actor {
  name: string;
  order: number;
  steps: number;
  blocked?: () => void;
  done: boolean;
}

/** Who runs next, given the actors waiting at a step (in the order they were started). */
type Policy = (waiting: Actor[]) => Actor;

class Scheduler {
  readonly actors: Actor[] = [];
  readonly errors: string[] = [];

  spawn(name: string, fn: (gate: () => Promise<void>) => Promise<unknown>): void {
    const actor: Actor = { name, order: this.actors.length, steps: 0, done: false };
    this.actors.push(actor);
    const gate = () =>
      new Promise<void>((resolve) => {
        actor.blocked = () => {
          actor.blocked = undefined;
          actor.steps++;
          resolve();
        };
      });
    void (async () => {
      await gate();
      try {
        await fn(gate);
      } catch (e) {
        this.errors.push(`${name}: ${(e as Error).stack}`);
      } finally {
        actor.done = true;
      }
    })();
  }

  async run(policy: Policy): Promise<void> {
    for (let n = 0; ; n++) {
      if (n > 10_000) throw new Error('no end: an event loop?');
      // In-memory steps settle within one turn of the event loop.
      await new Promise((r) => setImmediate(r));
      const waiting = this.actors.filter((a) => !a.done && a.blocked);
      if (waiting.length === 0) {
        if (this.actors.every((a) => a.done)) return;
        throw new Error(`stuck: ${this.actors.filter((a) => !a.done).map((a) => a.name)}`);
      }
      policy(waiting).blocked!();
    }
  }
}

/** The store an actor sees: each call waits for its turn. */
class GatedStore implements BlobStore {
  constructor(
    private readonly inner: BlobStore,
    private readonly gate: () => Promise<void>,
  ) {}
  async head(key: string): Promise<BlobInfo | undefined> {
    await this.gate();
    return this.inner.head(key);
  }
  async get(key: string): Promise<Uint8Array | undefined> {
    await this.gate();
    return this.inner.get(key);
  }
  async put(key: string, body: string | Uint8Array): Promise<void> {
    await this.gate();
    return this.inner.put(key, body);
  }
  async putIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    await this.gate();
    return this.inner.putIfAbsent(key, body);
  }
  async putIfMatch(key: string, body: string | Uint8Array, etag: string | undefined): Promise<boolean> {
    await this.gate();
    return this.inner.putIfMatch(key, body, etag);
  }
  async list(prefix: string): Promise<string[]> {
    await this.gate();
    return this.inner.list(prefix);
  }
}

function gatedInputs(inner: VersionedInputs, gate: () => Promise<void>): InputObjects {
  return {
    async describe(bucket: string, key: string, pin?: InputPin) {
      await gate();
      return inner.describe(bucket, key, pin);
    },
    open(input: PinnedInput) {
      const source = inner.open(input);
      const chunks = source.chunks.bind(source);
      source.chunks = async function* (start: number, end: number) {
        await gate();
        yield* chunks(start, end);
      };
      return source;
    },
  };
}

const pinOf = (p: PinnedInput, versioned: boolean, sequencer: string) => (versioned ? { versionId: p.versionId!, sequencer } : { etag: p.etag.replace(/"/g, ''), sequencer });
const decode = (b: Uint8Array | undefined) => (b ? (JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>) : undefined);

interface Run {
  /** steps each actor took, by role */
  steps: Record<string, number>;
  jobs: string[];
  final: { pointer?: string; result?: string; sum?: number; statuses: Record<string, string | undefined> };
  /** the jobs the pointer and results/ named, write by write */
  pointerHistory: string[];
  resultHistory: string[];
  errors: string[];
}

/**
 * One schedule: v1 is uploaded, its event reaches coordinator C1; upload U2 (one step)
 * replaces it and starts C2. `hold(actor)` says whether an actor must wait while any other
 * can run.
 */
async function schedule(versioned: boolean, pick: Policy, sequencers = true): Promise<Run> {
  const raw = new CountingStore();
  const inputs = new VersionedInputs(versioned);
  const sched = new Scheduler();
  const jobs: string[] = [];
  const pointerHistory: string[] = [];
  const resultHistory: string[] = [];
  const invoker = (): Invoker => ({
    async invoke(task) {
      sched.spawn(`W:${task.jobId}`, (gate) => scanSliceTask(deps(gate), task));
    },
  });
  const deps = (gate: () => Promise<void>) => {
    const store = new GatedStore(raw, gate);
    return { store, inputs: gatedInputs(inputs, gate), invoker: invoker(), defaults: { analysis: 'sum' }, fanin: 3, manifests: new ManifestReader(store, 0) };
  };
  raw.onCreated = (key) => {
    if (key === inputPointerKey(KEY)) pointerHistory.push(String(decode(raw.objects.get(key))?.job ?? 'failed'));
    if (key === resultKeyForInput(KEY)) resultHistory.push(String(decode(raw.objects.get(key))?.job));
    if (routeFor(key)?.target === 'merger') sched.spawn(`M:${jobOfKey(key)}`, (gate) => onNodeCreated(deps(gate), key));
  };
  const coordinator = (name: string, pin: ReturnType<typeof pinOf>) =>
    sched.spawn(name, async (gate) => {
      const r = await startJob(deps(gate), { bucket: BUCKET, key: KEY, pin });
      if ('jobId' in r && r.jobId) jobs[name === 'C1' ? 0 : 1] = r.jobId;
    });
  const first = inputs.upload(KEY, V1);
  // moto's events carry one constant sequencer: the order must then come from the object itself.
  coordinator('C1', pinOf(first, versioned, sequencers ? '0000000001' : '617f08299329d189'));
  sched.spawn('U2', async () => {
    const second = inputs.upload(KEY, V2);
    coordinator('C2', pinOf(second, versioned, sequencers ? '00000000002' : '617f08299329d189'));
  });
  await sched.run(pick);
  const pointer = decode(raw.objects.get(inputPointerKey(KEY)));
  const result = decode(raw.objects.get(resultKeyForInput(KEY)));
  const statuses = Object.fromEntries([jobs[0], jobs[1]].filter((j) => j !== undefined).map((j) => [j, decode(raw.objects.get(statusKey(j)))?.state as string | undefined]));
  const role = (a: Actor) => (a.name.includes(':') ? `${a.name[0]}${jobs.indexOf(a.name.slice(2)) + 1}` : a.name);
  const steps: Record<string, number> = {};
  for (const a of sched.actors) steps[role(a)] = Math.max(steps[role(a)] ?? 0, a.steps);
  return {
    steps,
    jobs,
    final: { pointer: pointer?.job as string | undefined, result: result?.job as string | undefined, sum: (result?.result as { sum?: number } | undefined)?.sum, statuses },
    pointerHistory,
    resultHistory,
    errors: sched.errors,
  };
}

/** Runs the first waiting actor that is not held; a held one runs only when nothing else can. */
function holding(held: ((a: Actor) => boolean)[], newestFirst = false): Policy {
  return (waiting) => {
    const order = newestFirst ? [...waiting].reverse() : waiting;
    const free = order.find((a) => !held.some((h) => h(a)));
    if (free) return free;
    // Only held actors can run: release them in the order of `held`.
    for (const h of held) {
      const a = order.find((x) => h(x));
      if (a) return a;
    }
    return order[0]!;
  };
}

function check(run: Run, label: string): void {
  const [job1, job2] = run.jobs;
  expect(run.errors, label).toEqual([]);
  expect(job2, label).toBeDefined();
  expect(run.final.pointer, label).toBe(job2);
  expect(run.final.result, label).toBe(job2);
  expect(run.final.sum, label).toBe(SUM2);
  expect(run.final.statuses[job2!], label).toBe('done');
  if (job1 && job1 !== job2) expect(['done', 'superseded', 'failed', undefined], label).toContain(run.final.statuses[job1]);
  // Once the newer job held the pointer or results/, the older one never got them back.
  for (const history of [run.pointerHistory, run.resultHistory]) {
    const at = history.indexOf(job2!);
    expect(history.slice(at), label).not.toContain(job1);
  }
}

/**
 * Holds one actor at each of its steps in turn (and in both default orders); returns the
 * most steps each role took in any of these schedules, the bounds for holding two.
 */
async function everySingleHold(versioned: boolean, sequencers: boolean): Promise<{ schedules: number; maxSteps: Record<string, number> }> {
  const baseline = await schedule(versioned, (w) => w[0]!, sequencers);
  check(baseline, 'baseline');
  const roleOf = roles(baseline.jobs);
  const maxSteps: Record<string, number> = { ...baseline.steps };
  let schedules = 0;
  for (const newestFirst of [false, true]) {
    for (const role of ROLES) {
      // Until the actor no longer reaches step k (it ends sooner, whatever the others do).
      for (let k = 0; k <= (maxSteps[role] ?? 0); k++) {
        const run = await schedule(versioned, holding([(a) => roleOf(a) === role && a.steps === k], newestFirst), sequencers);
        check(run, `${role} held at step ${k}${newestFirst ? ', newest first' : ''}`);
        for (const [r, n] of Object.entries(run.steps)) maxSteps[r] = Math.max(maxSteps[r] ?? 0, n);
        schedules++;
      }
    }
  }
  return { schedules, maxSteps };
}

const ROLES = ['C1', 'U2', 'C2', 'W1', 'M1', 'W2', 'M2'];
const roles = (jobs: string[]) => (a: Actor) => {
  const i = a.name.includes(':') ? jobs.indexOf(a.name.slice(2)) : -1;
  return i >= 0 ? `${a.name[0]}${i + 1}` : a.name;
};

describe.each([
  { versioned: true, sequencers: true },
  { versioned: true, sequencers: false },
  { versioned: false, sequencers: true },
  { versioned: false, sequencers: false },
])('two uploads of one key, every interleaving (versioned bucket: $versioned, events with ordered sequencers: $sequencers)', ({ versioned, sequencers }) => {
  let maxSteps: Record<string, number>;

  it('the newer upload owns the pointer and results/ when any one actor is held at any of its steps', async () => {
    const r = await everySingleHold(versioned, sequencers);
    maxSteps = r.maxSteps;
    expect(r.schedules).toBeGreaterThan(50);
  });

  it('the newer upload owns the pointer and results/ when two of the coordinators, mergers and the upload are held at any pair of steps, released in either order', async () => {
    maxSteps ??= (await everySingleHold(versioned, sequencers)).maxSteps;
    const baseline = await schedule(versioned, (w) => w[0]!, sequencers);
    const roleOf = roles(baseline.jobs);
    const held = ['C1', 'C2', 'M1', 'M2', 'U2'];
    let schedules = 0;
    for (const [i, a] of held.entries()) {
      for (const b of held.slice(i + 1)) {
        for (let ka = 0; ka <= (maxSteps[a] ?? 0); ka++) {
          for (let kb = 0; kb <= (maxSteps[b] ?? 0); kb++) {
            for (const aFirst of [true, false]) {
              const ha = (x: Actor) => roleOf(x) === a && x.steps === ka;
              const hb = (x: Actor) => roleOf(x) === b && x.steps === kb;
              const run = await schedule(versioned, holding(aFirst ? [ha, hb] : [hb, ha]), sequencers);
              check(run, `${a}@${ka} and ${b}@${kb}, ${aFirst ? a : b} released first`);
              schedules++;
            }
          }
        }
      }
    }
    expect(schedules).toBeGreaterThan(1000);
  });
});
