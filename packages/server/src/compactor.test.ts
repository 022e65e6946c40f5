import { describe, expect, it } from 'vitest';
import { parseRetention } from './compactor.js';

describe('parseRetention', () => {
  it('reads durations and bare hours for periodic, counts for revision', () => {
    expect(parseRetention('periodic', '1')).toBe(3_600_000);
    expect(parseRetention('periodic', '30m')).toBe(1_800_000);
    expect(parseRetention('periodic', '1h30m')).toBe(5_400_000);
    expect(parseRetention('periodic', '0')).toBe(0);
    expect(parseRetention('revision', '1000')).toBe(1000);
    expect(() => parseRetention('revision', '1h')).toThrow(/revision count/);
    expect(() => parseRetention('periodic', 'abc')).toThrow(/duration/);
  });
});
