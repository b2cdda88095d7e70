import { describe, expect, it } from 'vitest';
import { encodeJobFile, isJobFileKey, parseJobFile, partKeys } from '../../lib/job/job-file.ts';

const bytes = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const WHERE = 's3://b/input/runs/md.fanout.json';

describe('job files', () => {
  it('are recognised by their name', () => {
    expect(isJobFileKey('input/runs/md.fanout.json')).toBe(true);
    expect(isJobFileKey('input/runs/md.json')).toBe(false);
    expect(isJobFileKey('.fanout.json')).toBe(false);
  });

  it('list parts relative to their folder, in order, with the options of a direct invoke', () => {
    const file = parseJobFile(bytes({ parts: ['md.part2.xtc', 'more/md.part1.xtc'], options: { analysis: 'rg', sliceBytes: '8MiB', options: { k: 'v' } } }), WHERE);
    expect(file).toEqual({ parts: ['md.part2.xtc', 'more/md.part1.xtc'], options: { analysis: 'rg', sliceBytes: 8 << 20, options: { k: 'v' } } });
    expect(partKeys('input/runs/md.fanout.json', file)).toEqual(['input/runs/md.part2.xtc', 'input/runs/more/md.part1.xtc']);
    expect(partKeys('input/md.fanout.json', file)[0]).toBe('input/md.part2.xtc');
    expect(parseJobFile(bytes(encodeJobFile(file)), WHERE)).toEqual(file);
  });

  it.each([
    ['not JSON', '{"parts": [', /not a job file: .*JSON/],
    ['no parts', { options: {} }, /not a job file \(parts: /],
    ['no part at all', { parts: [] }, /not a job file \(parts: /],
    ['an unknown field', { parts: ['a.xtc'], prts: 1 }, /Unrecognized key: "prts"/],
    ['a part outside the folder', { parts: ['../a.xtc'] }, /part "\.\.\/a\.xtc": parts are keys relative to the job file's folder/],
    ['an absolute part', { parts: ['/input/a.xtc'] }, /part "\/input\/a\.xtc": parts are keys relative/],
    ['an empty segment', { parts: ['runs//a.xtc'] }, /parts are keys relative/],
    ['a job file as a part', { parts: ['other.fanout.json'] }, /is a job file itself/],
    ['an unknown option', { parts: ['a.xtc'], options: { analysys: 'rg' } }, /\(options\): invalid fanout options: unknown option analysys/],
  ])('refuses %s, naming the job file', (_, body, message) => {
    expect(() => parseJobFile(bytes(body), WHERE)).toThrow(message);
    expect(() => parseJobFile(bytes(body), WHERE)).toThrow(/^s3:\/\/b\/input\/runs\/md\.fanout\.json/);
  });

  it('refuses a job file over 1 MiB', () => {
    expect(() => parseJobFile(new Uint8Array((1 << 20) + 1), WHERE)).toThrow(/a job file of 1048577 bytes; at most 1048576 are read/);
  });
});
