/**
 * AWS list prices used by `fanout plan`, in one place. They change: update the date
 * with the numbers. On-demand, before free tier, the first pricing tier only.
 *
 * Checked in 2026-11 for us-east-1 against public pricing pages: Lambda arm64 duration
 * $0.0000133334 per GB-second and $0.20 per million requests; S3 Standard $0.005 per
 * 1,000 PUT/COPY/POST/LIST and $0.0004 per 1,000 GET/HEAD. Lambda bills the init phase
 * of on-demand functions too, which the estimate counts (ASSUMED_COLD_START_SECONDS).
 * The S3 figures of the other regions are not checked.
 */
export const PRICES_AS_OF = '2026-11';

export interface RegionPrices {
  /** Lambda duration, arm64, per GB-second */
  lambdaArmGbSecond: number;
  /** Lambda requests, per invocation */
  lambdaRequest: number;
  /** S3 Standard PUT, COPY, POST, LIST, per request */
  s3Put: number;
  /** S3 Standard GET, SELECT and all other requests (HEAD), per request */
  s3Get: number;
}

const US_EAST_1: RegionPrices = { lambdaArmGbSecond: 0.0000133334, lambdaRequest: 0.2 / 1e6, s3Put: 0.005 / 1000, s3Get: 0.0004 / 1000 };

/** Regions whose prices are known here; Lambda's arm64 price is the same in all of them, S3's request prices differ. */
export const REGION_PRICES: Readonly<Record<string, RegionPrices>> = {
  'us-east-1': US_EAST_1,
  'us-east-2': US_EAST_1,
  'us-west-2': US_EAST_1,
  'eu-west-1': US_EAST_1,
  'eu-central-1': { ...US_EAST_1, s3Put: 0.0054 / 1000, s3Get: 0.00043 / 1000 },
  'ap-northeast-1': { ...US_EAST_1, s3Put: 0.0047 / 1000, s3Get: 0.00037 / 1000 },
};

export function pricesFor(region: string): { region: string; prices: RegionPrices; known: boolean } {
  const prices = REGION_PRICES[region];
  return prices ? { region, prices, known: true } : { region, prices: US_EAST_1, known: false };
}
