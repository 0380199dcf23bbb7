/**
 * A minimal DER (ASN.1 Distinguished Encoding Rules) writer: just the types an X.509
 * certificate needs. Each function returns the complete TLV (tag, length, value).
 */

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const value = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(value.length), value]);
}

export const sequence = (...items: Buffer[]) => tlv(0x30, ...items);
export const set = (...items: Buffer[]) => tlv(0x31, ...items);
export const octetString = (b: Buffer) => tlv(0x04, b);
export const utf8String = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
export const ia5String = (s: string) => tlv(0x16, Buffer.from(s, 'ascii'));
export const boolean = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
/** [n] EXPLICIT (constructed context-specific). */
export const explicit = (n: number, ...items: Buffer[]) => tlv(0xa0 | n, ...items);
/** [n] IMPLICIT over a primitive value. */
export const implicitPrimitive = (n: number, value: Buffer) => tlv(0x80 | n, value);
/** [n] IMPLICIT over a constructed value (its content octets). */
export const implicitConstructed = (n: number, ...items: Buffer[]) => tlv(0xa0 | n, ...items);

/** INTEGER from an unsigned big-endian magnitude. */
export function integer(magnitude: Buffer | number): Buffer {
  let b = typeof magnitude === 'number' ? Buffer.from([magnitude]) : magnitude;
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  b = b.subarray(i);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

/** BIT STRING with `unused` padding bits in the last byte. */
export function bitString(bytes: Buffer, unused = 0): Buffer {
  return tlv(0x03, Buffer.from([unused]), bytes);
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
export function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z';
  return d.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii'))
    : tlv(0x18, Buffer.from(digits, 'ascii'));
}
