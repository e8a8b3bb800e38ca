/**
 * The Action API budget: at most `perKey` calls in flight per wiki and at most `ratePerSecond` calls
 * started per second overall (a token bucket holding up to one second of calls). Waiters are served
 * in arrival order.
 */
export interface CallLimiter {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Calls waiting for a slot or a token now. */
  waiting(): number;
}

export function createCallLimiter(opts: { perKey: number; ratePerSecond: number; now?: () => number }): CallLimiter {
  const now = opts.now ?? (() => performance.now());
  const inFlight = new Map<string, number>();
  const queues = new Map<string, Array<() => void>>();
  let tokens = opts.ratePerSecond;
  let refilled = now();
  const rateQueue: Array<() => void> = [];
  let timer: NodeJS.Timeout | undefined;
  let waitingCount = 0;

  function refill(): void {
    const t = now();
    tokens = Math.min(opts.ratePerSecond, tokens + ((t - refilled) / 1000) * opts.ratePerSecond);
    refilled = t;
  }

  function drainRate(): void {
    timer = undefined;
    refill();
    while (rateQueue.length && tokens >= 1) {
      tokens -= 1;
      (rateQueue.shift() as () => void)();
    }
    if (rateQueue.length) timer = setTimeout(drainRate, Math.max(1, Math.ceil(((1 - tokens) / opts.ratePerSecond) * 1000)));
  }

  const token = () =>
    new Promise<void>((resolve) => {
      rateQueue.push(resolve);
      if (!timer) drainRate();
    });

  const slot = (key: string) =>
    new Promise<void>((resolve) => {
      const n = inFlight.get(key) ?? 0;
      if (n < opts.perKey) {
        inFlight.set(key, n + 1);
        return resolve();
      }
      let q = queues.get(key);
      if (!q) queues.set(key, (q = []));
      q.push(() => {
        inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
        resolve();
      });
    });

  function release(key: string): void {
    inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
    const next = queues.get(key)?.shift();
    if (next) next();
    else if (!inFlight.get(key)) {
      inFlight.delete(key);
      queues.delete(key);
    }
  }

  return {
    async run(key, fn) {
      waitingCount++;
      try {
        await slot(key);
      } finally {
        waitingCount--;
      }
      try {
        waitingCount++;
        try {
          await token();
        } finally {
          waitingCount--;
        }
        return await fn();
      } finally {
        release(key);
      }
    },
    waiting: () => waitingCount,
  };
}

