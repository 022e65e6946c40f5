import { describe, expect, it } from 'vitest';
import {
  goDuration,
  goJSON,
  goQuote,
  hexID,
  hexID16,
  humanizeBytes,
  parseGoDuration,
} from './gofmt.js';
import { renderTable } from './table.js';

describe("Go's formatting", () => {
  it('quotes like strconv.Quote', () => {
    expect(goQuote('plain')).toBe('"plain"');
    expect(goQuote('tab\tnl\n"q"\\')).toBe('"tab\\tnl\\n\\"q\\"\\\\"');
    expect(goQuote(new Uint8Array([0xff, 0x01, 0x41]))).toBe('"\\xff\\x01A"');
    expect(goQuote('héllo ✓')).toBe('"héllo ✓"');
    expect(goQuote('\u200b')).toBe('"\\u200b"');
  });

  it('encodes JSON like encoding/json', () => {
    expect(
      goJSON({ a: 1, b: undefined, c: 18446744073709551615n, d: new Uint8Array([1, 2]), e: '<&>' }),
    ).toBe('{"a":1,"c":18446744073709551615,"d":"AQI=","e":"\\u003c\\u0026\\u003e"}');
    expect(goJSON(null)).toBe('null');
  });

  it('prints ids, sizes and durations', () => {
    expect(hexID(10276657743932975437n)).toBe('8e9e05c52164694d');
    expect(hexID(0x1an, 16)).toBe('000000000000001a');
    expect(hexID16(0x1an)).toBe('              1a');
    expect(humanizeBytes(5)).toBe('5 B');
    expect(humanizeBytes(20480)).toBe('20 kB');
    expect(humanizeBytes(21504)).toBe('22 kB');
    expect(humanizeBytes(1_500_000)).toBe('1.5 MB');
    expect(goDuration(3_648_888)).toBe('3.648888ms');
    expect(goDuration(1_500_000_000)).toBe('1.5s');
    expect(goDuration(90_000_000_000)).toBe('1m30s');
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('500ms')).toBe(500);
    expect(() => parseGoDuration('5')).toThrow('missing unit');
  });

  it('draws tables like olekukonko/tablewriter', () => {
    expect(renderTable(['ID', 'Peer Addrs'], [['8e9e', 'http://a:1']])).toBe(
      [
        '+------+------------+',
        '|  ID  | PEER ADDRS |',
        '+------+------------+',
        '| 8e9e | http://a:1 |',
        '+------+------------+',
        '',
      ].join('\n'),
    );
  });
});
