/**
 * Work done once per key while it is under way: a caller that asks for a key whose work is still
 * running gets the same promise. The entry goes once the work settles (fulfilled or rejected), so
 * the map holds at most one entry per piece of work in flight and nothing is cached.
 */
export function singleFlight<K, V>(): (key: K, work: () => Promise<V>) => Promise<V> {
  const running = new Map<K, Promise<V>>();
  return (key, work) => {
    const pending = running.get(key);
    if (pending !== undefined) return pending;
    const started = work();
    const forget = () => void running.delete(key);
    started.then(forget, forget);
    running.set(key, started);
    return started;
  };
}
