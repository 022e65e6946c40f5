import { type Command, InvalidArgumentError } from 'commander';
import type { Context } from './context.js';

export type Options = Record<string, unknown>;

/** What a command does once its flags are parsed; `raw` is the whole command line. */
export type Action = (
  ctx: Context,
  args: string[],
  options: Options,
  raw: string[],
) => Promise<void>;

/** A command of the tree: a leaf with an action, or a group of subcommands. */
export interface CommandSpec {
  name: string;
  description: string;
  setup?: (c: Command) => Command;
  action?: Action;
  children?: CommandSpec[];
  /** Flags the group gives all its subcommands (endpoint --cluster). */
  groupSetup?: (c: Command) => Command;
}

export function leaf(
  name: string,
  description: string,
  setup: ((c: Command) => Command) | undefined,
  action: Action,
): CommandSpec {
  return setup === undefined ? { name, description, action } : { name, description, setup, action };
}

export function group(
  name: string,
  description: string,
  children: CommandSpec[],
  groupSetup?: (c: Command) => Command,
): CommandSpec {
  return groupSetup === undefined
    ? { name, description, children }
    : { name, description, children, groupSetup };
}

/** pflag's Int64 flag parsing, with its error text. */
export function parseInt64(value: string): number {
  if (!/^[+-]?\d+$/.test(value)) {
    throw new InvalidArgumentError(`strconv.ParseInt: parsing "${value}": invalid syntax`);
  }
  return Number(value);
}

/**
 * Splits a line into words the way etcdctl does for txn and interactive watch lines:
 * double-quoted words with Go escapes, single-quoted words taken literally, bare words.
 */
export function argify(line: string): string[] {
  const re = /"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?/g;
  const out: string[] = [];
  for (const m of line.matchAll(re)) {
    const w = m[0];
    if (w.startsWith("'")) out.push(w.slice(1, -1));
    else if (w.startsWith('"')) {
      try {
        out.push(JSON.parse(w) as string);
      } catch {
        out.push(w.slice(1, -1));
      }
    } else out.push(w);
  }
  return out;
}
