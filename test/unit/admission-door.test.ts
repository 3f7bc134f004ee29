import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeName, type InferError, resourceExhausted, unavailable } from '../../src/errors';
import { AdmissionDoor, type DoorLimiter, type Knock } from '../../src/util/admission-door';
import { Pushback } from '../../src/util/pushback';

/** Fake time: timers run when the test moves the clock (advance) or in a simulation's event loop (next). */
class Clock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;
  set = (fn: () => void, ms: number): unknown => {
    const id = ++this.ids;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clear = (id: unknown): void => {
    this.timers = this.timers.filter((x) => x.id !== id);
  };
  /** Runs the earliest timer due by `until`; false when there is none. */
  next(until: number): boolean {
    let first: { at: number; fn: () => void; id: number } | undefined;
    for (const x of this.timers) if (!first || x.at < first.at) first = x;
    if (!first || first.at > until) return false;
    this.timers.splice(this.timers.indexOf(first), 1);
    this.t = Math.max(this.t, first.at);
    first.fn();
    return true;
  }
  advance(ms: number): void {
    const until = this.t + ms;
    while (this.next(until));
    this.t = until;
  }
}

/** A limiter of `slots` whose running calls the test starts and ends, with the real pushback schedule. */
class FakeLimiter implements DoorLimiter {
  active = 0;
  refusals = 0;
  isClosed = false;
  readonly pushback: Pushback;
  constructor(
    readonly slots: number,
    clock: Clock,
    callMs = 100,
  ) {
    this.pushback = new Pushback(
      slots,
      10_000,
      () => clock.t,
      () => 0.5,
    );
    for (let i = 0; i < 1000; i++) this.pushback.callFinished(callMs); // the mean call time is callMs now
  }
  get spacingMs(): number {
    return this.pushback.spacingMs;
  }
  refuse(): InferError {
    if (this.isClosed) return unavailable('closed');
    this.refusals++;
    return resourceExhausted('full', this.pushback.refused());
  }
  closed(): InferError | undefined {
    return this.isClosed ? unavailable('closed') : undefined;
  }
}

interface Fixture {
  clock: Clock;
  lim: FakeLimiter;
  door: AdmissionDoor;
  /** Knocks and records the answer (pending until it comes). */
  knock(k?: Partial<Knock>): { answer?: InferError | 'in'; withdraw: () => void };
}

function fixture(slots = 2, callMs = 100, maxRetryWaitMs = 1000): Fixture {
  const clock = new Clock();
  const lim = new FakeLimiter(slots, clock, callMs);
  const door = new AdmissionDoor(lim, {
    maxRetryWaitMs,
    maxHoldMs: 10_000,
    now: () => clock.t,
    setTimer: clock.set,
    clearTimer: clock.clear,
  });
  return {
    clock,
    lim,
    door,
    knock(k = {}) {
      const r: { answer?: InferError | 'in'; withdraw: () => void } = { withdraw: () => undefined };
      r.withdraw = door.knock({ retried: false, connection: 'c1', budgetMs: Infinity, ...k }, (why) => {
        assert.equal(r.answer, undefined, 'answered twice');
        r.answer = why ?? 'in';
      });
      return r;
    },
  };
}

const code = (a: InferError | 'in' | undefined): string =>
  a === undefined ? 'waiting' : a === 'in' ? 'in' : codeName(a.code);

describe('AdmissionDoor', () => {
  it('lets calls in while slots are free, counting those on their way so one freed slot lets in one call', () => {
    const f = fixture(2);
    assert.equal(code(f.knock().answer), 'in');
    assert.equal(code(f.knock().answer), 'in');
    // Neither has reached its slot yet (their bodies are still coming): the next one is refused, not let in.
    assert.equal(code(f.knock({ connection: 'c2' }).answer), 'RESOURCE_EXHAUSTED');
    f.door.through();
    f.door.through();
    f.lim.active = 2;
    assert.equal(code(f.knock({ connection: 'c3' }).answer), 'RESOURCE_EXHAUSTED');
    f.lim.active = 1;
    f.door.freed();
    assert.equal(code(f.knock().answer), 'in');
    assert.equal(code(f.knock({ connection: 'c4' }).answer), 'RESOURCE_EXHAUSTED');
  });

  it('a retried call waits for the next freed slot ahead of new calls, which are refused meanwhile', () => {
    const f = fixture(2);
    f.lim.active = 2;
    const retry = f.knock({ retried: true });
    assert.equal(code(retry.answer), 'waiting');
    const fresh = f.knock();
    assert.equal(code(fresh.answer), 'RESOURCE_EXHAUSTED');
    f.lim.active = 1;
    f.door.freed();
    assert.equal(code(retry.answer), 'in');
    // The slot is promised to the retry until it reaches it.
    assert.equal(code(f.knock().answer), 'RESOURCE_EXHAUSTED');
  });

  it('retries are let in first come first served; one that would wait longer than the cap is refused at once', () => {
    const f = fixture(1, 400, 1000); // a slot frees every 400 ms: two retries fit in 1 s, a third does not
    f.lim.active = 1;
    const a = f.knock({ retried: true });
    const b = f.knock({ retried: true });
    const c = f.knock({ retried: true });
    assert.deepEqual(
      [a, b, c].map((x) => code(x.answer)),
      ['waiting', 'waiting', 'RESOURCE_EXHAUSTED'],
    );
    // Its pushback sends it to the end of the schedule, not back at once.
    assert.ok((c.answer as InferError).retryAfterMs! >= 350, String((c.answer as InferError).retryAfterMs));
    f.lim.active = 0;
    f.door.freed();
    assert.deepEqual(
      [a, b].map((x) => code(x.answer)),
      ['in', 'waiting'],
    );
    f.door.through();
    f.lim.active = 1;
    f.clock.advance(999);
    assert.equal(code(b.answer), 'waiting');
    f.clock.advance(2); // its wait is capped: refused then, with a pushback
    assert.equal(code(b.answer), 'RESOURCE_EXHAUSTED');
  });

  it('a retry waits no longer than its deadline allows', () => {
    const f = fixture(1, 100, 1000);
    f.lim.active = 1;
    const r = f.knock({ retried: true, budgetMs: 300 });
    f.clock.advance(299);
    assert.equal(code(r.answer), 'waiting');
    f.clock.advance(2);
    assert.equal(code(r.answer), 'RESOURCE_EXHAUSTED');
  });

  it('new calls beyond the refusal rate are held: a freed slot lets one in, the rest are refused in turn', () => {
    const f = fixture(2, 200); // slots free every 100 ms: each connection is refused at most 10 a second, 32 at once
    f.lim.active = 2;
    const first = Array.from({ length: 32 }, () => f.knock());
    assert.deepEqual(
      first.map((x) => code(x.answer)),
      first.map(() => 'RESOURCE_EXHAUSTED'),
    );
    const held = [f.knock(), f.knock(), f.knock()];
    assert.deepEqual(
      held.map((x) => code(x.answer)),
      ['waiting', 'waiting', 'waiting'],
    );
    // Another connection has its own bucket.
    assert.equal(code(f.knock({ connection: 'c2' }).answer), 'RESOURCE_EXHAUSTED');
    f.clock.advance(50);
    f.lim.active = 1;
    f.door.freed();
    assert.deepEqual(
      held.map((x) => code(x.answer)),
      ['in', 'waiting', 'waiting'],
    );
    f.door.through();
    f.lim.active = 2;
    // The others keep their turns: refused at 200 ms and 300 ms, 100 ms apart.
    f.clock.advance(149);
    assert.deepEqual(
      held.map((x) => code(x.answer)),
      ['in', 'waiting', 'waiting'],
    );
    f.clock.advance(2);
    assert.deepEqual(
      held.map((x) => code(x.answer)),
      ['in', 'RESOURCE_EXHAUSTED', 'waiting'],
    );
    f.clock.advance(100);
    assert.deepEqual(
      held.map((x) => code(x.answer)),
      ['in', 'RESOURCE_EXHAUSTED', 'RESOURCE_EXHAUSTED'],
    );
  });

  it('an answer on a connection gives it back a refusal: its next new call is refused at once, not held', () => {
    const f = fixture(1, 100);
    f.lim.active = 1;
    const burst = Array.from({ length: 16 }, () => f.knock());
    assert.ok(burst.every((x) => code(x.answer) === 'RESOURCE_EXHAUSTED'));
    const held = f.knock();
    assert.equal(code(held.answer), 'waiting');
    held.withdraw(); // its caller went away: the booking is given back
    f.door.answered('c2'); // another connection's answer changes nothing here
    assert.equal(code(f.knock().answer), 'waiting');
    f.door.answered('c1');
    f.door.answered('c1');
    assert.equal(code(f.knock().answer), 'RESOURCE_EXHAUSTED');
  });

  it('a withdrawn call (its caller went away) is neither let in nor refused', () => {
    const f = fixture(1);
    f.lim.active = 1;
    const r = f.knock({ retried: true });
    r.withdraw();
    f.lim.active = 0;
    f.door.freed();
    assert.equal(code(r.answer), 'waiting');
    assert.equal(code(f.knock().answer), 'in');
  });

  it('closing answers every waiting call UNAVAILABLE and refuses new ones so', () => {
    const f = fixture(1);
    f.lim.active = 1;
    const r = f.knock({ retried: true });
    f.lim.isClosed = true;
    f.door.close();
    assert.equal(code(r.answer), 'UNAVAILABLE');
    assert.equal(code(f.knock().answer), 'UNAVAILABLE');
  });
});

/**
 * A closed loop of `clients` against a limiter of `slots` calls of `callMs`, on fake time: each client sends again as
 * soon as it is answered; after a refusal it waits the pushback and marks its next call as a retry (a gRPC client's
 * retry policy), or comes straight back after 1 ms. Clients spread over `connections`. Returns how many clients were
 * answered at least once in `ms`, the answers and the refusals.
 */
function crowd(o: {
  clients: number;
  slots: number;
  callMs: number;
  ms: number;
  mode: 'honour' | 'honour-unmarked' | 'ignore';
  connections: number;
}): { served: number; answers: number; refusals: number } {
  const f = fixture(o.slots, o.callMs, 2000);
  const served = new Set<number>();
  let answers = 0;
  const send = (i: number, retried: boolean): void => {
    f.door.knock(
      { retried: retried && o.mode === 'honour', connection: `c${i % o.connections}`, budgetMs: Infinity },
      (why) => {
        if (why) {
          const wait = o.mode === 'ignore' ? 1 : (why.retryAfterMs ?? 1);
          f.clock.set(() => send(i, true), wait);
          return;
        }
        f.door.through();
        f.lim.active++;
        f.clock.set(() => {
          f.lim.active--;
          f.lim.pushback.callFinished(o.callMs);
          answers++;
          served.add(i);
          f.door.freed();
          send(i, false);
        }, o.callMs);
      },
    );
  };
  for (let i = 0; i < o.clients; i++) f.clock.set(() => send(i, false), i % 7); // all within the first ms
  while (f.clock.next(o.ms));
  return { served: served.size, answers, refusals: f.lim.refusals };
}

describe('AdmissionDoor with a crowd (fake time)', () => {
  const base = { clients: 200, slots: 16, callMs: 700, ms: 20_000, connections: 8 };
  const capacity = (base.slots / base.callMs) * base.ms; // answers possible in the run

  it('200 clients that wait the pushback and mark their retries are all served within 20 s, at full goodput', () => {
    const r = crowd({ ...base, mode: 'honour' });
    assert.ok(r.served >= 195, `served ${r.served} of 200`);
    assert.ok(r.answers >= 0.95 * capacity, `${r.answers} answers of ${capacity.toFixed(0)} possible`);
    // About one refusal per answer (a client just answered is refused and sent to the end of the schedule).
    assert.ok(r.refusals <= 2 * r.answers + 200, `${r.refusals} refusals for ${r.answers} answers`);
  });

  it('the same clients without the retry mark get no turn order: fewer of them are served', () => {
    const marked = crowd({ ...base, mode: 'honour' });
    const unmarked = crowd({ ...base, mode: 'honour-unmarked' });
    assert.ok(unmarked.served < marked.served - 30, `unmarked ${unmarked.served}, marked ${marked.served}`);
  });

  it('200 clients that come straight back are refused at a bounded rate and served in turn, at full goodput', () => {
    const r = crowd({ ...base, mode: 'ignore' });
    // Each connection is refused at most as often as slots free (16 / 700 ms) and as it is answered, plus its burst.
    const bound = base.connections * ((base.slots / base.callMs) * base.ms + 16 * base.slots) + r.answers;
    assert.ok(r.refusals <= bound, `${r.refusals} refusals, bound ${bound.toFixed(0)}`);
    assert.ok(r.answers >= 0.95 * capacity, `${r.answers} answers of ${capacity.toFixed(0)} possible`);
    assert.ok(r.served >= 150, `served ${r.served} of 200`);
  });
});
