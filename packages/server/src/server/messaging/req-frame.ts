/**
 * The fast path for the frame a client sends most: `{"t":"req","id":"…","data":…}`, written in
 * exactly that order with no spaces and an id of plain ASCII (what wss-mp-client sends). The id
 * is read from the bytes and only `data` goes through `JSON.parse`; the whole frame is never
 * turned into a string, nor into an object that is thrown away at once.
 *
 * Anything else is not recognised (false) and goes to the general parser, which decides: other
 * key orders, spaces around the keys, escapes or non-ASCII in the id, an id longer than the
 * protocol allows, extra or duplicate keys (`,"x":1}` after data makes the rest invalid JSON on its
 * own), malformed JSON. Recognised means the general parser would have returned the same id and
 * the same `data`: the frame is the prefix, a JSON value, and `}`, which is an object with exactly
 * the keys t, id and data.
 */
import { MAX_ID_LENGTH } from '@wss-mp/protocol';

/** Where scanRequest leaves what it read (one per engine: the message path allocates none). */
export interface ScannedRequest {
  id: string;
  data: unknown;
}

const PREFIX = Buffer.from('{"t":"req","id":"', 'latin1');
const MID = Buffer.from('","data":', 'latin1');
const P = PREFIX.length;
const M = MID.length;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CLOSE_BRACE = 0x7d;

/**
 * Reads a canonical `req` frame into `out`; false (and `out` untouched) for anything else. A
 * canonical prefix whose `data` is not valid JSON on its own is "anything else" too: the general
 * parser then says what is wrong with the frame as a whole.
 */
export function scanRequest(b: Buffer, out: ScannedRequest): boolean {
  const n = b.length;
  // The shortest is {"t":"req","id":"x","data":0}.
  if (n < P + 1 + M + 2 || b[n - 1] !== CLOSE_BRACE) return false;
  for (let i = 0; i < P; i++) if (b[i] !== PREFIX[i]) return false;
  // The id: printable ASCII without `"` and `\`, so that its JSON text is the id itself.
  const max = Math.min(n, P + MAX_ID_LENGTH + 1);
  let end = P;
  for (;;) {
    if (end >= max) return false; // longer than MAX_ID_LENGTH, or no closing quote
    const c = b[end]!;
    if (c === QUOTE) break;
    if (c < 0x20 || c > 0x7e || c === BACKSLASH) return false;
    end++;
  }
  if (end === P) return false; // an empty id is a protocol error the general parser names
  for (let i = 0; i < M; i++) if (b[end + i] !== MID[i]) return false;
  const from = end + M;
  let data: unknown;
  try {
    // ws has checked that a text frame is valid UTF-8, and `from` follows ASCII: a character boundary.
    data = JSON.parse(b.toString('utf8', from, n - 1));
  } catch {
    return false;
  }
  out.id = b.toString('latin1', P, end);
  out.data = data;
  return true;
}
