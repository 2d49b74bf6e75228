/**
 * What a failed file operation says to a user: Node.js writes `ENOENT: no such file or directory,
 * open '/x'`, its error code and system call before the reason, and the path that the caller
 * names already. Commands print `<path>: no such file or directory` instead.
 */

/** The reason of a file system error in words (`no such file or directory`); any other error's message. */
export function fileErrorText(error: unknown): string {
  const e = error as NodeJS.ErrnoException | null;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (typeof e?.code !== 'string' || !message.startsWith(`${e.code}: `)) return message;
  const reason = message.slice(e.code.length + 2);
  // `, open '/x'`, `, scandir '/x'`: the call and the path, which the caller names.
  const call = typeof e.syscall === 'string' ? reason.lastIndexOf(`, ${e.syscall}`) : -1;
  return call > 0 ? reason.slice(0, call) : reason;
}
