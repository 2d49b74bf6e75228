/**
 * Node.js flags the sidecar is launched with (container image, injected pods, tests). A small
 * young generation keeps memory flat while streaming large bodies: without it V8 lets ~50 MB
 * of short-lived chunk garbage accumulate before collecting.
 */
export const SIDECAR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
