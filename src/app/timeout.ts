// Hard deadlines for calls to dependencies: whatever a client library does with its own timeouts,
// the caller gets an answer within `ms`.

export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/**
 * Settles like `work`, or rejects with TimeoutError after `ms` if `work` has not settled by then.
 * A late rejection of `work` is swallowed (the caller has moved on).
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) {
    // pg and net errors often carry the useful part in `code` (ECONNREFUSED) with an empty message
    // (AggregateError from happy-eyeballs connects).
    const code = (e as { code?: unknown }).code;
    const msg = e.message || e.name;
    return typeof code === "string" && !msg.includes(code) ? `${msg} (${code})` : msg;
  }
  return String(e);
}
