/**
 * Who is connected: every connection of each authenticated user (for sendToUser's bookkeeping,
 * the one-session-per-user policy and presence counts).
 */
export interface UserConn {
  readonly user: string | null;
}

export class Users<C extends UserConn> {
  private readonly byUser = new Map<string, Set<C>>();

  add(conn: C): void {
    if (conn.user === null) return;
    let set = this.byUser.get(conn.user);
    if (set === undefined) this.byUser.set(conn.user, (set = new Set()));
    set.add(conn);
  }

  remove(conn: C): void {
    if (conn.user === null) return;
    const set = this.byUser.get(conn.user);
    if (set === undefined) return;
    set.delete(conn);
    if (set.size === 0) this.byUser.delete(conn.user);
  }

  /** The user's open connections (an empty iterable for none). */
  connectionsOf(user: string): ReadonlySet<C> {
    return this.byUser.get(user) ?? EMPTY;
  }

  /** Distinct users connected. */
  get size(): number {
    return this.byUser.size;
  }

  ids(): string[] {
    return [...this.byUser.keys()];
  }
}

const EMPTY: ReadonlySet<never> = new Set();

export interface Presence {
  /** Distinct authenticated users, each once. */
  users: string[];
  /** Connections (anonymous ones included). */
  connections: number;
}

/** Presence of a set of connections. */
export function presenceOf(conns: Iterable<UserConn>): Presence {
  const users = new Set<string>();
  let connections = 0;
  for (const c of conns) {
    connections++;
    if (c.user !== null) users.add(c.user);
  }
  return { users: [...users], connections };
}
