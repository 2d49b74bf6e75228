/**
 * The links a connection carries for the idle order: kept on the connection itself, so that a
 * request's start and end move it without allocating (a Set's delete and add did, about 200
 * bytes a request when its table was rebuilt).
 */
export interface IdleLink {
  idlePrev: IdleLink | null;
  idleNext: IdleLink | null;
  inIdleOrder: boolean;
}

/** Connections in the order they became idle, first the one idle longest. */
export class IdleOrder<T extends IdleLink> {
  #head: IdleLink | null = null;
  #tail: IdleLink | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Puts `node` last (idle since now), out of its place first if it was in the order. */
  append(node: T): void {
    this.remove(node);
    node.idlePrev = this.#tail;
    node.idleNext = null;
    if (this.#tail === null) this.#head = node;
    else this.#tail.idleNext = node;
    this.#tail = node;
    node.inIdleOrder = true;
    this.#size++;
  }

  /** Takes `node` out of the order; nothing when it is not in it. */
  remove(node: T): void {
    if (!node.inIdleOrder) return;
    const { idlePrev, idleNext } = node;
    if (idlePrev === null) this.#head = idleNext;
    else idlePrev.idleNext = idleNext;
    if (idleNext === null) this.#tail = idlePrev;
    else idleNext.idlePrev = idlePrev;
    node.idlePrev = null;
    node.idleNext = null;
    node.inIdleOrder = false;
    this.#size--;
  }

  /** The node idle longest, or null. */
  first(): T | null {
    return this.#head as T | null;
  }
}
