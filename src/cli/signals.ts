// Ctrl-C as a cancel: long operations (a remote command, a dev server) watch an AbortSignal.

export interface SignalTrap {
  /** Aborted on the first SIGINT or SIGTERM, with the signal's name as reason. */
  signal: AbortSignal;
  /** Resolves on a second signal: the user is in a hurry. */
  again: Promise<void>;
  dispose(): void;
}

/** Turns SIGINT/SIGTERM into an AbortSignal for the duration of a long operation. */
export function trapSignals(): SignalTrap {
  const controller = new AbortController();
  let hurry!: () => void;
  const again = new Promise<void>((resolve) => (hurry = resolve));
  const handler = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) hurry();
    else controller.abort(name);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: controller.signal,
    again,
    dispose: () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}
