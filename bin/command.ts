/** A command of the `gatehouse` command line, loaded: its usage and how to run it. */
export interface Command {
  readonly usage: string;
  run(argv: string[]): number | Promise<number>;
}
