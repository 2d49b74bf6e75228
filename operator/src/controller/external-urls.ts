import { type KubeObject, objectKey } from '../../../lib/kube/kube-object.ts';

/**
 * Applications that sign people in at the same external URL: the ingress sends that URL's
 * sign-in callbacks (`<externalUrl>/.gatehouse/callback`) to one of them only, so the users of
 * the other can never finish signing in (its login state is sealed with keys the first does not
 * have). Usually a copied manifest whose externalUrl was not changed.
 */

/** Which of two applications came first: created earlier, then by namespace/name. */
function earlier(a: KubeObject, b: KubeObject): boolean {
  const at = (o: KubeObject) => Date.parse(o.metadata.creationTimestamp ?? '') || Number.POSITIVE_INFINITY;
  return at(a) !== at(b) ? at(a) < at(b) : objectKey(a) < objectKey(b);
}

/**
 * The application that holds this one's external URL first (created earlier), or undefined when
 * this one holds it: the later ones are told, the first goes on as it was.
 */
export function earlierHolder(object: KubeObject, others: Iterable<KubeObject>): KubeObject | undefined {
  let first: KubeObject | undefined;
  for (const other of others)
    if (objectKey(other) !== objectKey(object) && earlier(other, object) && (!first || earlier(other, first)))
      first = other;
  return first;
}
