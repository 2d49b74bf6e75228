/** Which applications refer to which objects (policies, Secrets), so a change to one re-queues exactly its users. */
export class ReferenceIndex {
  readonly #byTarget = new Map<string, Set<string>>();
  readonly #bySource = new Map<string, readonly string[]>();

  /** Replaces the references of one application (an empty list forgets it). */
  set(source: string, targets: readonly string[]): void {
    for (const target of this.#bySource.get(source) ?? []) {
      const set = this.#byTarget.get(target);
      set?.delete(source);
      if (set?.size === 0) this.#byTarget.delete(target);
    }
    if (targets.length === 0) {
      this.#bySource.delete(source);
      return;
    }
    this.#bySource.set(source, targets);
    for (const target of targets) {
      let set = this.#byTarget.get(target);
      if (!set) {
        set = new Set();
        this.#byTarget.set(target, set);
      }
      set.add(source);
    }
  }

  /** What one application refers to. */
  targets(source: string): readonly string[] {
    return this.#bySource.get(source) ?? [];
  }

  /** The applications that refer to a target. */
  sources(target: string): readonly string[] {
    return [...(this.#byTarget.get(target) ?? [])];
  }
}
