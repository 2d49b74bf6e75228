/**
 * The links an object carries for the one LinkedOrder it may be in: kept on the object itself,
 * so that going in and out allocates nothing (a Set's delete and add cost about 200 bytes a
 * request when its table was rebuilt, for the idle order of connections).
 */
export interface OrderLink {
  orderPrev: OrderLink | null;
  orderNext: OrderLink | null;
  inOrder: boolean;
}

/** Objects in the order they were appended (the idle order of connections, the requests in progress). */
export class LinkedOrder<T extends OrderLink> {
  #head: OrderLink | null = null;
  #tail: OrderLink | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Puts `node` last, out of its place first if it was in the order. */
  append(node: T): void {
    this.remove(node);
    node.orderPrev = this.#tail;
    node.orderNext = null;
    if (this.#tail === null) this.#head = node;
    else this.#tail.orderNext = node;
    this.#tail = node;
    node.inOrder = true;
    this.#size++;
  }

  /** Takes `node` out of the order; nothing when it is not in it. */
  remove(node: T): void {
    if (!node.inOrder) return;
    const { orderPrev, orderNext } = node;
    if (orderPrev === null) this.#head = orderNext;
    else orderPrev.orderNext = orderNext;
    if (orderNext === null) this.#tail = orderPrev;
    else orderNext.orderPrev = orderPrev;
    node.orderPrev = null;
    node.orderNext = null;
    node.inOrder = false;
    this.#size--;
  }

  /** The node appended longest ago, or null. */
  first(): T | null {
    return this.#head as T | null;
  }

  /**
   * Calls `visit` for each node, first to last; `visit` may remove the node it is given (a node
   * appended meanwhile may be left out).
   */
  forEach(visit: (node: T) => void): void {
    for (let node = this.#head; node !== null; ) {
      const next = node.orderNext;
      visit(node as T);
      node = next;
    }
  }
}
