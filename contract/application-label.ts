/**
 * How every log line names the application: `namespace/name`, or `name` in file mode. Request
 * lines and the sidecar's own events alike, so that the audit can join them. A module of its own
 * (no schema), as the request path, the sidecar's command and the render all need it.
 */
export function applicationLabel(application: {
  readonly name: string;
  readonly namespace?: string;
}): string {
  return application.namespace ? `${application.namespace}/${application.name}` : application.name;
}
