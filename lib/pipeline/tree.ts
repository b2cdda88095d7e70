/**
 * The merge tree of the cloud pipeline. Level 0 holds one partial per slice; the
 * nodes of level L are cut into groups of G (the fan-in), and group g of level L is
 * merged into node g of level L+1. The level whose nodes fit in one group is the last:
 * its single group merges into the result.
 *
 * Every node's key lies under its group's own prefix, so "is this group complete?" is
 * one ListObjectsV2 call returning at most G keys, whatever the job's size: N slices
 * cost O(N) requests in total. Every node key ends with PARTIAL_SUFFIX (its creation
 * fires the merger); each level has at most ceil(1/G) of the previous one's nodes, so
 * the chain of merge events shrinks and ends.
 */
import { PARTIAL_SUFFIX } from '../topology.ts';
import { jobPrefix } from './keys.ts';

const pad = (n: number): string => String(n).padStart(8, '0');

/** Node counts per level, from the slices up to the level that fits in one group. */
export function levelSizes(slices: number, fanin: number): number[] {
  const sizes = [slices];
  while (sizes[sizes.length - 1]! > fanin) sizes.push(Math.ceil(sizes[sizes.length - 1]! / fanin));
  return sizes;
}

export function groupPrefix(jobId: string, level: number, group: number): string {
  return `${jobPrefix(jobId)}tree/${level}/${pad(group)}/`;
}

export function nodeKey(jobId: string, level: number, index: number, fanin: number): string {
  return `${groupPrefix(jobId, level, Math.floor(index / fanin))}${pad(index)}${PARTIAL_SUFFIX}`;
}

export interface NodeRef {
  jobId: string;
  level: number;
  group: number;
  index: number;
}

const NODE_KEY = /^jobs\/([0-9a-f]+)\/tree\/(\d+)\/(\d{8})\/(\d{8})\.partial\.json$/;

export function parseNodeKey(key: string): NodeRef | undefined {
  const m = NODE_KEY.exec(key);
  if (!m) return undefined;
  return { jobId: m[1]!, level: Number(m[2]), group: Number(m[3]), index: Number(m[4]) };
}

/** The indices of group g at a level of `size` nodes. */
export function groupMembers(size: number, fanin: number, group: number): { first: number; count: number } {
  const first = group * fanin;
  return { first, count: Math.max(0, Math.min(fanin, size - first)) };
}
