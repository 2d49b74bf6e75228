import { type ParseArgsConfig, parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The option a token names when it is `--name` or `-n` alone (no value attached). */
function bareOption(token: string, options: Options): Options[string] | undefined {
  if (token.startsWith('--'))
    return Object.hasOwn(options, token.slice(2)) ? options[token.slice(2)] : undefined;
  if (token.length === 2 && token[0] === '-') return Object.values(options).find((o) => o.short === token[1]);
  return undefined;
}

/** Whether `token` is one of the command's own options (`--name`, `--name=…`, `-n`) or `--`. */
function isOwnOption(token: string, options: Options): boolean {
  return token === '--' || bareOption(token.split('=', 1)[0] ?? '', options) !== undefined;
}

/**
 * The arguments with every value that begins with a dash attached to its option (`--session
 * -Xy…` becomes `--session=-Xy…`), so that parseArgs takes it. Session ids, provider session ids
 * and subjects are base64url, and one in 64 begins with a dash; parseArgs refuses such a value as
 * "ambiguous" unless it is attached. A value that is one of the command's own options stays
 * apart: that is a forgotten value, which parseArgs reports.
 */
export function attachDashValues(argv: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const option = bareOption(token, options);
    if (option?.type === 'string' && next?.startsWith('-') && next !== '-' && !isOwnOption(next, options)) {
      const long = token.startsWith('--')
        ? token
        : `--${Object.keys(options).find((name) => options[name] === option)}`;
      out.push(`${long}=${next}`);
      i++;
    } else out.push(token);
  }
  return out;
}

/**
 * `parseArgs` of a command's flags, strict, with values that begin with a dash taken as values
 * (see attachDashValues). Errors are parseArgs' own (code ERR_PARSE_ARGS_*), which the CLI prints
 * with the usage.
 */
export function parseCommandLine<T extends ParseArgsConfig & { args: string[]; options: Options }>(
  config: T,
): ReturnType<typeof parseArgs<T>> {
  return parseArgs<T>({ ...config, args: attachDashValues(config.args, config.options) });
}
