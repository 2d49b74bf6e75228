import Type, { type Static, type TObject, type TProperties } from 'typebox';

/**
 * The pieces every event schema is made of (the sidecar's in contract/log-events.ts, the
 * operator's in contract/operator-events.ts): a described field, an event's description and
 * fields, and the whole line a test checks (`type` and `time`, then the fields, nothing else).
 */

export const str = (description: string) => Type.String({ description });
export const int = (description: string) => Type.Integer({ minimum: 0, description });
export const opt = Type.Optional;

export interface EventSpec<P extends TProperties> {
  readonly description: string;
  readonly fields: P;
}

export const event = <P extends TProperties>(description: string, fields: P): EventSpec<P> => ({
  description,
  fields,
});

/** The fields of an event as its writer gives them. */
export type Fields<P extends TProperties> = Static<TObject<P>>;

/** The whole line of one event: `type`, `time`, then its fields and no others. */
export const lineSchema = (type: string, fields: TProperties, description: string) =>
  Type.Object(
    {
      type: Type.Literal(type, { description: 'Line kind.' }),
      time: Type.String({ description: 'When the line was written, RFC 3339 with milliseconds.' }),
      ...fields,
    },
    { additionalProperties: false, description },
  );
