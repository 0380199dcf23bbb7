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
  /** Each user's connections (the same users as `users`). */
  userConnections: Record<string, number>;
}

/**
 * Adds up presence counts (connections, and connections per user) from any number of sources:
 * the connections of this process, the workers of one machine, the nodes sharing a Redis.
 */
export class PresenceTally {
  connections = 0;
  private readonly byUser = new Map<string, number>();

  user(id: string, n: number): void {
    if (n > 0) this.byUser.set(id, (this.byUser.get(id) ?? 0) + n);
  }

  result(): Presence {
    // fromEntries defines own properties: a user id such as "__proto__" stays a plain key.
    return { users: [...this.byUser.keys()], connections: this.connections, userConnections: Object.fromEntries(this.byUser) };
  }
}

/** Presence of a set of connections. */
export function presenceOf(conns: Iterable<UserConn>): Presence {
  const t = new PresenceTally();
  for (const c of conns) {
    t.connections++;
    if (c.user !== null) t.user(c.user, 1);
  }
  return t.result();
}
