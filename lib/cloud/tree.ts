/**
 * The shape of the cloud pipeline's merge tree (its node keys are in lib/job/keys.ts). Level 0 holds one partial per slice; the
 * nodes of level L are cut into groups of G (the fan-in), and group g of level L is
 * merged into node g of level L+1. The level whose nodes fit in one group is the last:
 * its single group merges into the result.
 *
 * Every node's key lies under its group's own prefix, so "is this group complete?" is
 * one ListObjectsV2 call returning at most G keys, whatever the job's size: N slices
 * cost O(N) requests in total. Every node key above the slices ends with PARTIAL_SUFFIX
 * (its creation fires the merger; a slice's leaf raises no event, its worker merges its
 * group); each level has at most ceil(1/G) of the previous one's nodes, so the chain of
 * merge events shrinks and ends.
 */

/**
 * Node counts per level, from the slices up to the level that fits in one group. The
 * slices' level is never the last: workers merge its groups (lib/cloud/advance.ts), the
 * merger the levels above, and the last level into the result.
 */
export function levelSizes(slices: number, fanin: number): number[] {
  const sizes = [slices];
  while (sizes.length < 2 || sizes[sizes.length - 1]! > fanin) sizes.push(Math.ceil(sizes[sizes.length - 1]! / fanin));
  return sizes;
}

/** The indices of group g at a level of `size` nodes. */
export function groupMembers(size: number, fanin: number, group: number): { first: number; count: number } {
  const first = group * fanin;
  return { first, count: Math.max(0, Math.min(fanin, size - first)) };
}
