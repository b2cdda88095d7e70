import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/core/errors.ts';
import { PartsSource } from '../../lib/core/parts.ts';
import { MemorySource } from '../../lib/core/source.ts';

const parts = () => new PartsSource([new MemorySource(new Uint8Array(100), 'a.xtc'), new MemorySource(new Uint8Array(50), 'b.xtc'), new MemorySource(new Uint8Array(30), 'c.xtc')]);

describe('PartsSource.partError', () => {
  it('names the part and the offset in it', () => {
    const p = parts();
    const e = p.partError(new InputError(p.name, 120, 'not an XTC frame header')) as InputError;
    expect([e.file, e.offset, e.problem]).toEqual(['b.xtc', 20, 'not an XTC frame header']);
  });

  it('tells the offsets a problem mentions in the part too, and names another part when they lie in one', () => {
    const p = parts();
    const e = p.partError(new InputError(p.name, 120, 'the magic number is 1234, where the frame at byte 104 ends (its byte count, at byte 162, says 8)')) as InputError;
    expect(e.message).toBe('b.xtc: at byte 20: the magic number is 1234, where the frame at byte 4 ends (its byte count, at byte 12 of c.xtc, says 8)');
    const early = p.partError(new InputError(p.name, 110, 'corrupted frame size in the XTC frame at byte 60: the next frame would start at byte 110')) as InputError;
    expect(early.message).toBe('b.xtc: at byte 10: corrupted frame size in the XTC frame at byte 60 of a.xtc: the next frame would start at byte 10');
  });

  it('leaves errors about other sources alone', () => {
    const p = parts();
    const other = new InputError('elsewhere', 5, 'at byte 120');
    expect(p.partError(other)).toBe(other);
  });
});
